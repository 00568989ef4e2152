"""The `.mnn` file format: a converted, optimised graph that loads without a frontend.

Layout (all integers little-endian)::

    header     128 bytes: magic, format version, flags, section offsets/lengths, file length, SHA-256
    structure  UTF-8 JSON: the graph (nodes, attributes, nested subgraphs, types, metadata) and a table
               of tensors (dtype, shape, offset into the weights section)
    weights    raw tensor bytes, each tensor starting on a 64-byte boundary of the file

The SHA-256 covers every byte of the file except the 32 bytes that hold it. Because weights are
aligned and raw, `load_graph` returns read-only numpy views over an `mmap` of the file: loading costs
one pass for the checksum and no copies.
"""
from __future__ import annotations

from .mnnfile import (FLAGS_KNOWN, FORMAT_VERSION, HEADER_SIZE, MAGIC, FormatError, load_graph,
                      read_header, save)

__all__ = ["FLAGS_KNOWN", "FORMAT_VERSION", "HEADER_SIZE", "MAGIC", "FormatError", "load_graph",
           "read_header", "save"]
