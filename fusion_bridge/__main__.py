"""`python -m fusion_bridge` is the `fusion-bridge` command."""

from fusion_bridge.cli.main import main

main(prog_name="fusion-bridge")
