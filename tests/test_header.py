"""include/smisk.h cannot collide with an application's names: everything it
defines (macros, types, struct tags, enum values, functions) and every symbol
libsmisk exports starts with smisk_ / SMISK_, and each constant it defines is
checked from C (capi-tests/test_constants.c)."""

import re
import subprocess

import harness

HEADER = harness.ROOT / "include" / "smisk.h"
CONSTANTS_TEST = harness.ROOT / "capi-tests" / "test_constants.c"
PREFIXED = re.compile(r"^(smisk_|SMISK_)")


def macros_defined_by_header():
    """Macro names the header adds to those of the headers it includes."""
    def macros(source):
        out = subprocess.run(["cc", "-std=c99", "-E", "-dM", "-I", str(HEADER.parent), "-x", "c", "-"],
                             input=source, capture_output=True, text=True, check=True).stdout
        return {line.split()[1].split("(")[0] for line in out.splitlines() if line.startswith("#define ")}
    base = macros("#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n")
    return macros('#include "smisk.h"\n') - base


def declared_names(text):
    """Type names, struct tags, enum values and function names declared at
    file scope by the (cbindgen-generated, regular) header."""
    # C++ linkage block: `extern "C" {` ... `}  // extern "C"`.
    text = text.replace('extern "C" {', "").replace('}  // extern "C"', "")
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^#.*$", "", text, flags=re.M)
    names = set()
    names.update(re.findall(r"typedef\s+struct\s+(\w+)\s+\w+\s*;", text))   # struct tags
    names.update(re.findall(r"}\s*(\w+)\s*;", text))                        # typedef'd enums/structs
    names.update(re.findall(r"typedef\s+struct\s+\w+\s+(\w+)\s*;", text))
    names.update(re.findall(r"\(\s*\*\s*(\w+)\s*\)\s*\(", text))            # function pointer types
    for body in re.findall(r"typedef\s+enum\s*{(.*?)}", text, flags=re.S):   # enum values
        names.update(re.findall(r"^\s*(\w+)\s*(?:=[^,\n]*)?,?\s*$", body, flags=re.M))
    # Prototypes: an identifier followed by '(' outside any brace block.
    depth, top = 0, []
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        top.append(ch if depth == 0 else " ")
    top_text = "".join(top)
    names.update(n for n in re.findall(r"\b(\w+)\s*\(", top_text)
                 if n not in {"typedef", "sizeof"} and not re.match(r"^(u?int\d+_t|void|int|char|bool|size_t)$", n))
    names.discard("")
    return names


def test_every_macro_of_the_header_is_prefixed():
    found = macros_defined_by_header()
    assert "SMISK_VERSION_NUMBER" in found and "SMISK_H" in found, sorted(found)
    bad = sorted(n for n in found if not PREFIXED.match(n))
    assert bad == [], f"unprefixed macros in smisk.h: {bad}"


def test_every_declared_name_of_the_header_is_prefixed():
    names = declared_names(HEADER.read_text())
    # The parser sees what it must: types, enum values and functions.
    for expected in ("smisk_status", "SMISK_OK", "SMISK_LIMIT_LINGER_MAX_BYTES", "smisk_server",
                     "smisk_server_new", "smisk_read_fn", "smisk_form_limits"):
        assert expected in names, expected
    bad = sorted(n for n in names if not PREFIXED.match(n))
    assert bad == [], f"unprefixed names in smisk.h: {bad}"


def test_the_checker_would_catch_an_unprefixed_name():
    text = HEADER.read_text().replace("#define SMISK_MAX_FORKS", "#define MAX_FORKS")
    text += "\ntypedef enum {\n  CHUNK = 1,\n} smisk_probe;\nint OVERLOADED(void);\n"
    names = declared_names(text)
    assert {"CHUNK", "OVERLOADED"} <= names


def test_libsmisk_exports_only_prefixed_symbols():
    lib = harness.ROOT / "target" / "release" / "libsmisk.so"
    subprocess.run(["cargo", "build", "--release", "--lib", "--quiet"], cwd=harness.ROOT, check=True)
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    symbols = [line.split()[-1] for line in out.splitlines() if line.split()[-2:-1] in (["T"], ["D"], ["B"], ["R"])]
    assert "smisk_server_new" in symbols
    bad = sorted(s for s in symbols if not s.startswith("smisk_"))
    assert bad == [], f"unprefixed symbols exported by libsmisk.so: {bad}"


def test_every_constant_is_checked_from_c():
    constants = macros_defined_by_header() - {"SMISK_H"}
    source = CONSTANTS_TEST.read_text()
    unchecked = sorted(n for n in constants if not re.search(rf"\b{n}\b", source))
    assert unchecked == [], f"constants of smisk.h that capi-tests/test_constants.c does not check: {unchecked}"


def test_64_bit_constants_read_as_64_bit_values_in_c(tmp_path):
    """The 2 GiB default once expanded to (2 << 30), an int overflow that C
    reads as -2147483648 ("no limit" to the form parser)."""
    src = tmp_path / "probe.c"
    src.write_text('#include <stdio.h>\n#include "smisk.h"\n'
                   'int main(void) { printf("%lld %zu\\n", (long long)SMISK_DEFAULT_MAX_MULTIPART_SIZE,'
                   ' sizeof(SMISK_DEFAULT_MAX_MULTIPART_SIZE)); return 0; }\n')
    exe = tmp_path / "probe"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(HEADER.parent), "-o", str(exe),
                    str(src)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == [
        str(2 << 30), "8"]


def status_codes_of_the_header():
    """(name, value) of every code of the smisk_status enum in smisk.h."""
    body = re.search(r"typedef enum \{(.*?)\} smisk_status;", HEADER.read_text(), flags=re.S).group(1)
    body = re.sub(r"//[^\n]*", "", body)
    return [(n, int(v)) for n, v in re.findall(r"^\s*(SMISK_\w+)\s*=\s*(\d+),?\s*$", body, flags=re.M)]


def test_every_status_of_the_header_has_a_name_and_a_message():
    """The status names and messages come from one table in the library:
    each code the header declares has its own name and message there, and no
    other number has either."""
    import ctypes

    subprocess.run(["cargo", "build", "--release", "--lib", "--quiet"], cwd=harness.ROOT, check=True)
    lib = ctypes.CDLL(str(harness.ROOT / "target" / "release" / "libsmisk.so"))
    for fn in (lib.smisk_status_name, lib.smisk_status_str):
        fn.restype = ctypes.c_char_p
        fn.argtypes = [ctypes.c_int32]
    codes = status_codes_of_the_header()
    assert ("SMISK_OK", 0) in codes and ("SMISK_ERR_SESSION_ID", 41) in codes and len(codes) > 20
    messages = set()
    for name, value in codes:
        assert lib.smisk_status_name(value).decode() == name
        message = lib.smisk_status_str(value).decode()
        assert message and message != "unknown status", name
        assert message not in messages, f"{name} shares its message"
        messages.add(message)
    known = {v for _, v in codes}
    for value in set(range(-1, 200)) - known:
        assert lib.smisk_status_name(value) == b"SMISK_UNKNOWN_STATUS", value
        assert lib.smisk_status_str(value) == b"unknown status", value
