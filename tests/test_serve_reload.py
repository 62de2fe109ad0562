"""A rebuild swapped into the served directory is picked up without restarting the server."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
from serve_fixtures import LiveServer, write_build

EX = "http://example.org/"


def one_graph(value: str) -> list[ox.Quad]:
    return [
        ox.Quad(
            ox.NamedNode(EX + "s"),
            ox.NamedNode(EX + "p"),
            ox.Literal(value),
            ox.NamedNode(EX + "graph/doc"),
        )
    ]


def current_value(server: LiveServer) -> str:
    r = server.request("GET", "/sparql?query=" + quote(f"SELECT ?o {{ <{EX}s> <{EX}p> ?o }}"))
    return r.json()["results"]["bindings"][0]["o"]["value"]


def test_swapped_build_is_served(tmp_path: Path) -> None:
    served = write_build(tmp_path / "build", one_graph("first"), base=EX)
    server = LiveServer(served, timeout=2.0, reload_interval=0.3).start()
    try:
        assert current_value(server) == "first"
        fresh = write_build(tmp_path / "build.new", one_graph("second"), base=EX)
        os.rename(served, tmp_path / "build.old")  # what a rebuild does: swap directories
        os.rename(fresh, served)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and current_value(server) != "second":
            time.sleep(0.2)
        assert current_value(server) == "second"
    finally:
        server.stop()
