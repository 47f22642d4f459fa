#!/usr/bin/env python3
"""A FastCGI hello served by libsmisk.so through ctypes alone (no shim, no
compiler): proof that the C API needs nothing but plain integer and pointer
types from a foreign-function interface.

    python3 examples/ctypes_hello.py /tmp/hello.sock      (or HOST:PORT)

LIBSMISK may name the library file; default: target/release/libsmisk.so.
"""

import ctypes
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = os.environ.get("LIBSMISK", str(ROOT / "target" / "release" / "libsmisk.so"))

SMISK_OK = 0
SMISK_ERR_INTERRUPTED = 7

smisk = ctypes.CDLL(LIB)
c_status = ctypes.c_int
c_p = ctypes.c_void_p

smisk.smisk_version.restype = ctypes.c_char_p
smisk.smisk_last_error.restype = ctypes.c_char_p
smisk.smisk_server_new.argtypes = [ctypes.POINTER(c_p)]
smisk.smisk_server_new.restype = c_status
smisk.smisk_server_free.argtypes = [c_p]
smisk.smisk_server_bind.argtypes = [c_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32]
smisk.smisk_server_bind.restype = c_status
smisk.smisk_server_accept.argtypes = [c_p, ctypes.c_int64, ctypes.POINTER(c_p)]
smisk.smisk_server_accept.restype = c_status
smisk.smisk_request_param.argtypes = [c_p, ctypes.c_char_p, ctypes.c_size_t,
                                      ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
smisk.smisk_request_param.restype = c_status
smisk.smisk_response_add_header.argtypes = [c_p, ctypes.c_char_p, ctypes.c_size_t]
smisk.smisk_response_add_header.restype = c_status
smisk.smisk_response_write.argtypes = [c_p, ctypes.c_char_p, ctypes.c_size_t]
smisk.smisk_response_write.restype = c_status
smisk.smisk_request_finish.argtypes = [c_p, ctypes.c_uint32]
smisk.smisk_request_finish.restype = c_status


def check(status, what):
    if status != SMISK_OK:
        raise OSError(f"{what}: {smisk.smisk_last_error().decode()} (status {status})")


def param(request, name):
    value, length = ctypes.c_void_p(), ctypes.c_size_t()
    if smisk.smisk_request_param(request, name, len(name), ctypes.byref(value), ctypes.byref(length)) != SMISK_OK:
        return None
    return ctypes.string_at(value, length.value)


def main(address):
    server = c_p()
    check(smisk.smisk_server_new(ctypes.byref(server)), "smisk_server_new")
    addr = address.encode()
    check(smisk.smisk_server_bind(server, addr, len(addr), 0), f"bind {address}")
    print(f"ctypes_hello: libsmisk {smisk.smisk_version().decode()} listening on {address}", file=sys.stderr)
    header = b"Content-Type: text/plain"
    try:
        while True:
            request = c_p()
            st = smisk.smisk_server_accept(server, -1, ctypes.byref(request))
            if st == SMISK_ERR_INTERRUPTED:
                continue
            check(st, "accept")
            who = param(request, b"QUERY_STRING") or b"World"
            body = b"Hello " + who + b"! (from Python via ctypes)\n"
            if smisk.smisk_response_add_header(request, header, len(header)) == SMISK_OK:
                smisk.smisk_response_write(request, body, len(body))
            smisk.smisk_request_finish(request, 0)
    finally:
        smisk.smisk_server_free(server)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} ADDRESS")
    try:
        main(sys.argv[1])
    except KeyboardInterrupt:
        pass
