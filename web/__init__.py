"""The review page and its same-origin proxy to TorchServe; `python web/server.py --help` runs it."""
