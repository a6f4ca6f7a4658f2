# The coderun image: runs `coderun` and starts sandbox containers as siblings through the host's
# Docker socket:  docker run --rm -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD:/work" -w /work \
#                   coderun evaluate samples.jsonl
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
COPY . /src
RUN python3 -m pip install --no-cache-dir /src
ENTRYPOINT ["coderun"]
