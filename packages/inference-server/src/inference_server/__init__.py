"""A lean Open Inference Protocol server for any model repository the zoo's exporters write.

It serves a Triton-layout model repository (``<repository>/<model>/config.pbtxt``,
``<repository>/<model>/<version>/model.onnx`` and ``artifact.json``) over KServe V2 REST, the protocol NVIDIA
Triton speaks, with ONNX Runtime, knowing nothing of the models that produced it. Start it with
``inference-server serve --model-repository PATH``; ``tritonclient.http`` is its reference client.
"""

__version__ = "0.1.0"
"""The server's version, reported by its metadata route."""
