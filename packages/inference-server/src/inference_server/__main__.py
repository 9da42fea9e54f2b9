"""``python -m inference_server``: the same command line as ``inference-server``."""

from inference_server.command_line import main

if __name__ == "__main__":
    raise SystemExit(main())
