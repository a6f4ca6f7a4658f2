# The coderun image: runs `coderun` and starts its sandbox containers as siblings through the host's Docker
# socket (nothing nested). Build it with scripts/build-image.sh, which makes the build context: a wheelhouse
# of coderun and every dependency, built on the host for the base image's Python. The build itself never
# reaches a package index, so it works from a base without pip or a registry (coderun-base:bookworm:
# debootstrap's python3 + python3-venv) as well as from python:3.12-slim.
#
#   scripts/build-image.sh coderun:latest
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD:$PWD" -w "$PWD" coderun:latest evaluate samples.jsonl --out runs/ci
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
LABEL io.coderun.image="coderun-build"
COPY . /wheels
RUN ls /wheels/coderun-*.whl >/dev/null 2>&1 \
    || { echo "the build context must be a wheelhouse: build with scripts/build-image.sh" >&2; exit 1; }
RUN python3 -m venv /opt/coderun \
 && /opt/coderun/bin/pip install --no-index --no-cache-dir --find-links /wheels coderun \
 && /opt/coderun/bin/coderun --version

FROM ${BASE_IMAGE}
COPY --from=build /opt/coderun /opt/coderun
ENV PATH=/opt/coderun/bin:$PATH PYTHONDONTWRITEBYTECODE=1
LABEL io.coderun.image="coderun"
WORKDIR /work
ENTRYPOINT ["coderun"]
CMD ["--help"]
