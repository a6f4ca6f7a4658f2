"""The run orchestrators: they join the stages (datasets, generation, execution, reranking, scoring) into
the runs the commands make. evaluate.py scores a samples file, generate.py generates and scores,
rerank.py picks one of n in a finished run; stage.py is the execution stage all of them share."""
