"""The KServe baseline: KServe's Python ModelServer running one ONNX model with ONNX Runtime.

Run in its own environment (KServe's SDK pulls in Kubernetes and pandas; the benchmark makes that environment
with uv under .benchmarks/). KServe's REST server binds every interface; this script binds it to 127.0.0.1,
as the benchmark compares servers on the loopback interface only.
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description="KServe's ModelServer for one ONNX model, on 127.0.0.1.")
    parser.add_argument("--model", required=True, help="the model.onnx file")
    parser.add_argument("--name", required=True, help="the model's name")
    parser.add_argument("--port", type=int, required=True, help="the HTTP port on 127.0.0.1")
    arguments = parser.parse_args()
    sys.argv = sys.argv[:1]  # KServe reads its own options from the command line when imported

    import kserve
    import kserve.protocol.rest.server as rest_server
    import numpy
    import onnxruntime
    import uvicorn

    class LoopbackConfiguration(uvicorn.Config):
        def __init__(self, *positional, **named) -> None:
            named["host"] = "127.0.0.1"
            super().__init__(*positional, **named)

    rest_server.uvicorn.Config = LoopbackConfiguration

    class OnnxModel(kserve.Model):
        def __init__(self, name: str, path: str) -> None:
            super().__init__(name)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name
            self.output_names = [output.name for output in self.session.get_outputs()]
            self.ready = True

        async def predict(self, payload, headers=None, response_headers=None):
            values = payload.inputs[0].as_numpy().astype(numpy.float32, copy=False)
            results = self.session.run(self.output_names, {self.input_name: values})
            requested = {output.name: output for output in payload.request_outputs or []}
            outputs = []
            for name, result in zip(self.output_names, results, strict=True):
                if requested and name not in requested:
                    continue
                binary = bool(requested and (requested[name].parameters or {}).get("binary_data", False))
                output = kserve.InferOutput(name=name, shape=list(result.shape), datatype="FP32")
                output.set_data_from_numpy(result, binary_data=binary)
                outputs.append(output)
            return kserve.InferResponse(
                response_id=payload.id or "", model_name=self.name, infer_outputs=outputs
            )

    model = OnnxModel(arguments.name, arguments.model)
    kserve.ModelServer(
        http_port=arguments.port, enable_grpc=False, workers=1, enable_latency_logging=False
    ).start([model])


if __name__ == "__main__":
    main()
