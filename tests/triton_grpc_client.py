"""tritonclient's gRPC client against a model server, as a process of its own; prints one JSON object.

    python tests/triton_grpc_client.py 127.0.0.1:8096 "A moving film." "Dull."

Its own process because tritonclient.grpc and kserve register the same protobuf messages
('inference.ServerLiveRequest', ...) in protobuf's default pool: one process cannot import both.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

MODEL = "sentiment"


def main(address: str, texts: list[str]) -> None:
    client = grpcclient.InferenceServerClient(address)
    metadata = client.get_model_metadata(MODEL, as_json=True)
    batch = np.array([t.encode() for t in texts], dtype=np.object_)
    tensor = grpcclient.InferInput("text", list(batch.shape), np_to_triton_dtype(batch.dtype))
    tensor.set_data_from_numpy(batch)
    result = client.infer(MODEL, [tensor])
    wrong = grpcclient.InferInput("text", [1], "FP32")
    wrong.set_data_from_numpy(np.array([1.0], dtype=np.float32))
    try:
        client.infer(MODEL, [wrong])
        refused = None
    except InferenceServerException as error:
        refused = {"status": error.status(), "message": error.message()}
    try:
        client.unload_model(MODEL)
        unload = None
    except InferenceServerException as error:
        unload = error.status()
    print(json.dumps({
        "live": client.is_server_live(), "ready": client.is_server_ready(), "model_ready": client.is_model_ready(MODEL),
        "inputs": metadata["inputs"], "outputs": [o["name"] for o in metadata["outputs"]],
        "labels": [label.decode() for label in result.as_numpy("label")],
        "scores": result.as_numpy("score").tolist(),
        "wrong_datatype": refused,
        "unload_refused": unload,
        "after": client.infer(MODEL, [tensor]).as_numpy("score").tolist(),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
