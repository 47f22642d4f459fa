"""Rules about the repository itself that no compiler checks.

- Docs a newcomer can trust: nothing in the repository points at documents
  that are not in it (a specification's bug numbers W-n / P-n, its
  section numbers, issue numbers); what those said is in docs/ (docs/compat.md
  for behaviour that differs from the original Smisk).
- docs/benchmarks.md is method and latest results, not a history of runs.
- The bench scripts share bench/benchlib.py instead of loading the
  fcgi-bench executable as a module.
- Cargo.toml denies unsafe operations outside unsafe blocks and unsafe
  blocks without a SAFETY comment (clippy and rustc enforce them).
"""
import re
import subprocess

import harness

ROOT = harness.ROOT

# A bug or item number of the outside specification, one of its files, an
# issue number, or a section sign (allowed only within a standard's
# reference: "RFC 9110 §8.6, §15.4.5", "FastCGI 1.0 §6.4").
OUTSIDE = re.compile(
    r"\b[WP]-\d+\b|original-core|original-python|decisions\.md"
    r"|\b[Ii]ssues? \d+\b|\b[Ii]ssue [A-Z]\b|\bthe issue (?:quoted|measured|asks)\b|§"
)
STANDARD = re.compile(r"(RFC \d+|YAML [\d.]+|PEP \d+|FastCGI [\d.]+)[^()\n]*$|(RFC \d+|YAML [\d.]+|FastCGI [\d.]+)\s*$")


def tracked_text_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in out.split():
        path = ROOT / name
        if name.startswith(("fuzz/seeds/", "tests/test_repo_rules.py")) or not path.is_file():
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


def test_nothing_points_at_documents_outside_the_repository():
    found = []
    for name, text in tracked_text_files():
        for m in OUTSIDE.finditer(text):
            if m.group() == "§":
                # The 120 characters before it, comment markers folded.
                before = re.sub(r"\s*(?:///?!?|#|\*)?\s*\n\s*(?:///?!?|#|\*)?\s*", " ", text[max(0, m.start() - 120):m.start()])
                if STANDARD.search(before):
                    continue
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{name}:{line}: {text.splitlines()[line - 1].strip()[:120]}")
    assert found == [], "\n".join(found[:40])


def test_compat_doc_describes_the_fixes():
    text = (ROOT / "docs" / "compat.md").read_text()
    for words in ("error page escapes", "Session ids are 20 bytes", "Multipart", "REQUEST_SCHEME",
                  "URL.decode('a+b') == 'a b'", "send_file", "Response.headers"):
        assert words in text, words


def test_benchmarks_doc_is_method_and_latest_results():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    dated = re.findall(r"^#+ .*(Results? (of|on|\()|Earlier|[Aa]fter \")", text, flags=re.M)
    assert dated == [], dated
    headings = re.findall(r"^#+ .*[Ll]atest", text, flags=re.M)
    assert len(headings) >= 3, headings


def test_bench_scripts_share_one_helper_module():
    for path in (ROOT / "bench").rglob("*"):
        if not path.is_file() or ".venv" in path.parts or "target" in path.parts or "out" in path.parts:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        assert "SourceFileLoader" not in text and "load_module(" not in text, path
        assert "spec_from_file_location" not in text, path
    assert "import benchlib" in (ROOT / "bench" / "wsgi" / "run").read_text()
    assert "from benchlib import" in (ROOT / "bench" / "fcgi-bench").read_text()


def test_cargo_lints_deny_undocumented_unsafe():
    text = (ROOT / "Cargo.toml").read_text()
    assert re.search(r'^\[lints\.rust\]\s*\n(?:[^\[]*\n)?unsafe_op_in_unsafe_fn = "deny"', text, flags=re.M)
    assert re.search(r'^\[lints\.clippy\]\s*\n(?:[^\[]*\n)?undocumented_unsafe_blocks = "deny"', text, flags=re.M)
