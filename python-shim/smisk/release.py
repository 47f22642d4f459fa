"""Release metadata of the smisk package (what Smisk 1.x called smisk.release)."""
__all__ = ["version", "version_info", "author", "email", "copyright", "license"]

# Kept equal to [project] version in python-shim/pyproject.toml (a test checks).
version: str = "2.0.0.dev1"

version_info: "tuple[int, ...]" = tuple(int(part) for part in version.split(".") if part.isdigit())
"""The numeric parts of `version`: (2, 0, 0) for '2.0.0.dev1'."""

author: str = "The smisk authors"
# The project publishes no contact address; the name is kept for legacy code
# that prints it.
email: str = ""
copyright: str = "Copyright (c) 2026 The smisk authors"

license: str = """\
MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""
