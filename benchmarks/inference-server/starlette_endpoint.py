"""The baseline: a minimal JSON-only Starlette + uvicorn endpoint that runs one ONNX model.

What a first server usually looks like: one route, the standard library's JSON, ONNX Runtime called from the
request handler, no validation, no binary data, no batching. The benchmark starts it with
``python starlette_endpoint.py --model PATH --port PORT``.
"""

from __future__ import annotations

import argparse

import numpy
import onnxruntime
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build_application(model_path: str, model_name: str) -> Starlette:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_names = [output.name for output in session.get_outputs()]

    async def infer(request: Request) -> JSONResponse:
        document = await request.json()
        tensor = document["inputs"][0]
        values = numpy.asarray(tensor["data"], dtype=numpy.float32).reshape(tensor["shape"])
        results = session.run(output_names, {input_name: values})
        outputs = [
            {"name": name, "datatype": "FP32", "shape": list(result.shape), "data": result.ravel().tolist()}
            for name, result in zip(output_names, results, strict=True)
        ]
        return JSONResponse({"model_name": model_name, "model_version": "1", "outputs": outputs})

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({})

    return Starlette(
        routes=[
            Route(f"/v2/models/{model_name}/infer", infer, methods=["POST"]),
            Route(f"/v2/models/{model_name}/ready", ready),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="A minimal JSON-only Starlette endpoint for one ONNX model.")
    parser.add_argument("--model", required=True, help="the model.onnx file")
    parser.add_argument("--name", required=True, help="the model's name in the route")
    parser.add_argument("--port", type=int, required=True, help="the port on 127.0.0.1")
    arguments = parser.parse_args()
    application = build_application(arguments.model, arguments.name)
    uvicorn.run(application, host="127.0.0.1", port=arguments.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
