"""Every answer a user can type is either refused before anything is written, with a
message naming the question and echoing nothing unprintable, or renders a project whose
structured files parse, whose answers read back unchanged, and whose wheel metadata keeps
every field.

Renders run in-process (`copier.run_copy`, without trust, as the CLI does) from a plain
copy of the template made once per session: a refusal costs about 0.05 s of CPU and a
render about 0.2 s, so hypothesis can afford a few hundred examples. The CLI's own
handling of whole data files and bad bytes is in test_answers.py.

`HYPOTHESIS_ANSWER_EXAMPLES=300 HYPOTHESIS_ANSWER_EXPLORE=1 pytest tests/test_answer_properties.py`
explores further with random seeds; the default run is derandomized, so CI is repeatable.
"""

from __future__ import annotations

import ast
import email.utils
import json
import os
import shutil
import string
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from hatchling.builders.wheel import WheelBuilder
from hatchling.metadata.core import ProjectMetadata
from hatchling.metadata.spec import DEFAULT_METADATA_VERSION, get_core_metadata_constructors
from hatchling.plugin.manager import PluginManager
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from packaging.metadata import Metadata
from packaging.utils import canonicalize_name
from validate_pyproject.api import Validator

from tests.rendering import plain_snapshot
from tests.validators import parse_structured

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_ANSWER_EXAMPLES", "12")),
    derandomize=not os.environ.get("HYPOTHESIS_ANSWER_EXPLORE"),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# A dependency the rendered project does not have: the core metadata must still carry it
# after every header the answers produce (a stray newline in an earlier header once ended
# the headers there, and installers saw no Requires-Dist and no Requires-Python).
DEPENDENCIES = ["packaging>=24", 'tomli>=2; python_version < "3.11"']


# ---------------------------------------------------------------------------------------
# The template, rendered in-process
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's working tree, not a git repository: copier renders it as it is."""
    return plain_snapshot(tmp_path_factory.mktemp("plain-template"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("renders")


@pytest.fixture(scope="module")
def pyproject_validator() -> Validator:
    return Validator()


def render(
    template: Path, workdir: Path, data: dict[str, Any], defaults: dict[str, Any] | None = None
) -> tuple[Path, ValueError | None]:
    """`copier copy --defaults --data ...` in-process: the destination, and copier's error
    when it refused the answers."""
    dst = Path(tempfile.mkdtemp(dir=workdir)) / "project"
    try:
        copier.run_copy(
            str(template),
            dst,
            data=data,
            defaults=True,
            unsafe=False,
            quiet=True,
            vcs_ref="HEAD",
            settings=copier.Settings(defaults=defaults or {}),
        )
    except ValueError as error:  # how copier reports a refused answer
        return dst, error
    return dst, None


# ---------------------------------------------------------------------------------------
# What a refusal and a render must look like
# ---------------------------------------------------------------------------------------
def assert_refused_cleanly(dst: Path, error: ValueError, questions: set[str]) -> str:
    """The message names one of `questions`, shows no raw control or invisible character,
    and nothing was left behind. Returns the question named."""
    message = str(error)
    named = message.removeprefix("Validation error for question '").split("'", 1)[0]
    assert message.startswith("Validation error for question '"), message
    assert named in questions, message
    assert message.isascii(), f"the message echoes non-ASCII text: {message!r}"
    assert message.isprintable(), f"the message echoes a control character: {message!r}"
    assert not dst.exists(), "a refused answer left a destination folder behind"
    return named


def assert_sound_project(project: Path, given: dict[str, str], validator: Validator) -> None:
    """Every structured file parses, every answer given reads back unchanged from the
    answers file and pyproject.toml, and the core metadata hatchling writes for the wheel
    parses with all its fields."""
    for path in project.rglob("*"):
        if path.is_dir() or ".git" in path.parts:
            continue
        if path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"))
        else:
            parse_structured(path)

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    for question, value in given.items():
        assert answers[question] == value, f"{question} did not read back from the answers file"

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    validator(pyproject)
    meta = pyproject["project"]
    assert meta["name"] == answers["distribution_name"]
    assert meta["description"] == answers["description"]
    assert meta["authors"] == [{"name": answers["author_name"], "email": answers["author_email"]}]
    assert (project / "src" / answers["package_name"] / "__init__.py").is_file()
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    if answers["license"] in {"MIT", "BSD-2-Clause", "BSD-3-Clause", "ISC"}:
        assert f"{answers['copyright_year']} {answers['author_name']}" in license_text

    pyproject["project"]["dependencies"] = DEPENDENCIES
    core = get_core_metadata_constructors()[DEFAULT_METADATA_VERSION](
        ProjectMetadata(str(project), PluginManager(), pyproject)
    )
    parsed = Metadata.from_email(core, validate=True)
    assert canonicalize_name(parsed.name) == canonicalize_name(answers["distribution_name"])
    assert parsed.summary == answers["description"]
    assert [str(requirement) for requirement in parsed.requires_dist or []] == DEPENDENCIES
    assert str(parsed.requires_python) == f">={answers['python_min']}"
    assert email.utils.getaddresses([parsed.author_email]) == [
        (answers["author_name"], answers["author_email"])
    ]
    assert parsed.project_urls and all(
        url.startswith(("https://github.com/", "https://gitlab.com/"))
        and url.isascii()
        and url.isprintable()
        for url in parsed.project_urls.values()
    )


def built_wheel_metadata(project: Path) -> Metadata:
    """Build the project's wheel with hatchling's own builder (what `python -m build`
    runs), with `DEPENDENCIES` declared, and parse its METADATA."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert text.count("\ndependencies = []\n") == 1
    pyproject.write_text(
        text.replace("\ndependencies = []\n", f"\ndependencies = {json.dumps(DEPENDENCIES)}\n"),
        encoding="utf-8",
    )
    (wheel,) = WheelBuilder(str(project)).build(
        directory=str(project.parent / "dist"), versions=["standard"]
    )
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Metadata.from_email(archive.read(name), validate=True)


def check(
    template: Path,
    workdir: Path,
    validator: Validator,
    data: dict[str, Any],
    refusers: set[str],
    defaults: dict[str, Any] | None = None,
) -> str | None:
    """Render; a refusal must be clean and name one of `refusers`, a render sound.
    Returns the question that refused, or None."""
    dst, error = render(template, workdir, data, defaults)
    try:
        if error is not None:
            named = assert_refused_cleanly(dst, error, refusers)
            event(f"refused by {named}")
            return named
        event("rendered")
        assert_sound_project(dst, {**(defaults or {}), **data}, validator)
        return None
    finally:
        shutil.rmtree(dst.parent, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------
# Spliced into otherwise plausible answers: everything that once broke, or could break, a
# generated file, a header, a path or a terminal.
NASTY = (
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1b[2J\x1b[31m",
    "\x7f",
    "\x85",
    "\x9b",
    "\xa0",
    "\xad",
    "\u061c",
    "\u180e",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2028",
    "\u2029",
    "\u202a",
    "\u202e",
    "\u2060",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\udcff",
    "\ud800",
    "\U000e0041",
    "\u3000",
    " ",
    '"',
    "'",
    "\\",
    "\\n",
    "\\u0000",
    "{{ 7 * 7 }}",
    "{%",
    "${{ github.token }}",
    "$(id)",
    "`id`",
    "#",
    ": ",
    "- ",
    "&a",
    "*a",
    "!!python/object",
    "%",
    "@",
    ",",
    "<>",
    "/",
    ".",
    "..",
    ".git",
    "~",
    "\U0001f600",
    "é",
    "e\u0301",
    "İ",
    "ß",
    "日本",
)


# Spliced into valid free text: odd, but every one of them must be accepted verbatim.
ODD = (
    '"',
    "'",
    "\\",
    "\\n",
    "\\u0000",
    "{{ 7 * 7 }}",
    "{%",
    "${{ github.token }}",
    "$(id)",
    "`id`",
    "#",
    ": ",
    "- ",
    "&a",
    "*a",
    "!!python/object",
    "%",
    "@",
    "<>",
    "/",
    "..",
    "~",
    "\xa0",
    "\u3000",
    "\U0001f600",
    "é",
    "e\u0301",
    "İ",
    "ß",
    "日本",
    "[x](y)",
    "<!--",
)


def _splice(
    base: st.SearchStrategy[str], pieces: tuple[str, ...] = NASTY
) -> st.SearchStrategy[str]:
    def splice(text: str, piece: str, at: int) -> str:
        at %= len(text) + 1
        return text[:at] + piece + text[at:]

    return st.builds(splice, base, st.sampled_from(pieces), st.integers(0, 100))


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)
PROSE = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), min_size=1, max_size=60
)
NAME = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=24)
LOWER = st.text(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=16)
GCP_ID = st.from_regex(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", fullmatch=True)
EMAIL = st.emails()


def hostile(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A plausible answer, the same with something nasty spliced in, or any text."""
    return st.one_of(base, _splice(base), ANY_TEXT)


GITHUB: dict[str, str] = {}
GITLAB = {"repository_host": "gitlab", "publisher": "gitlab-ci"}
CLOUD_BUILD = {"publisher": "google-cloud-build"}
ACTIVESTATE = {"publisher": "activestate"}

# id: (question, plausible answers, other answers it needs, questions that may refuse it:
# itself, and those whose defaults derive from it).
QUESTIONS: dict[str, tuple[str, st.SearchStrategy[str], dict[str, str], set[str]]] = {
    "project_name": (
        "project_name",
        PROSE,
        GITHUB,
        {"project_name", "distribution_name", "package_name", "repository_name"},
    ),
    "distribution_name": (
        "distribution_name",
        NAME,
        GITHUB,
        {"distribution_name", "package_name", "repository_name"},
    ),
    "package_name": ("package_name", LOWER, GITHUB, {"package_name"}),
    "description": ("description", PROSE, GITHUB, {"description"}),
    "author_name": ("author_name", PROSE, GITHUB, {"author_name"}),
    "author_email": ("author_email", EMAIL, GITHUB, {"author_email"}),
    "copyright_year": (
        "copyright_year",
        st.integers(1800, 2200).map(str),
        GITHUB,
        {"copyright_year"},
    ),
    "repository_owner-github": ("repository_owner", NAME, GITHUB, {"repository_owner"}),
    "repository_owner-gitlab": (
        "repository_owner",
        st.lists(NAME, min_size=1, max_size=3).map("/".join),
        GITLAB,
        {"repository_owner"},
    ),
    "repository_name": ("repository_name", NAME, GITHUB, {"repository_name"}),
    "security_contact": (
        "security_contact",
        st.one_of(st.just(""), EMAIL),
        GITHUB,
        {"security_contact"},
    ),
    "gcp_project_id": (
        "gcp_project_id",
        GCP_ID,
        CLOUD_BUILD,
        {"gcp_project_id", "gcp_service_account"},
    ),
    "gcp_service_account": (
        "gcp_service_account",
        st.builds("{}@{}.iam.gserviceaccount.com".format, GCP_ID, GCP_ID),
        CLOUD_BUILD,
        {"gcp_service_account"},
    ),
    "activestate_organization": (
        "activestate_organization",
        NAME,
        ACTIVESTATE,
        {"activestate_organization"},
    ),
    "activestate_project": ("activestate_project", NAME, ACTIVESTATE, {"activestate_project"}),
    "activestate_actor": ("activestate_actor", NAME, ACTIVESTATE, {"activestate_actor"}),
}


@pytest.mark.parametrize("case", list(QUESTIONS))
def test_any_answer_is_refused_cleanly_or_renders_a_sound_project(
    case: str, plain_template: Path, workdir: Path, pyproject_validator: Validator
) -> None:
    question, plausible, context, refusers = QUESTIONS[case]

    @PROPERTY_SETTINGS
    @given(value=hostile(plausible))
    def one_answer(value: str) -> None:
        check(plain_template, workdir, pyproject_validator, {**context, question: value}, refusers)

    one_answer()


# Valid names from each question's allow-list, hostile free text, every host and publisher.
VALID_PROSE = _splice(PROSE, ODD).map(lambda text: text.replace(",", " ").strip()).filter(bool)
TOGETHER = st.fixed_dictionaries(
    {
        "project_name": VALID_PROSE,
        "description": VALID_PROSE,
        "author_name": VALID_PROSE.map(lambda text: text.replace("<", "(").replace(">", ")")),
        "author_email": EMAIL,
        "distribution_name": st.from_regex(
            r"[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?", fullmatch=True
        ),
        "package_name": st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True),
        "license": st.sampled_from(["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-or-later"]),
        "lock_tool": st.sampled_from(["uv", "pip-tools"]),
    }
).flatmap(
    lambda answers: st.sampled_from(
        [
            {**answers, **GITHUB},
            {**answers, **GITLAB},
            {**answers, **CLOUD_BUILD},
            {**answers, **ACTIVESTATE},
        ]
    )
)


def test_hostile_free_text_with_valid_names_renders_everywhere(
    plain_template: Path, workdir: Path, pyproject_validator: Validator
) -> None:
    @PROPERTY_SETTINGS
    @given(answers=TOGETHER)
    def together(answers: dict[str, str]) -> None:
        check(plain_template, workdir, pyproject_validator, answers, set(answers))

    together()


# ---------------------------------------------------------------------------------------
# Named regressions: the nastiest cases, each with the question that must refuse it (None:
# it must render soundly). Runs on every test run, whatever hypothesis draws.
# ---------------------------------------------------------------------------------------
REGRESSIONS: dict[str, tuple[dict[str, Any], dict[str, Any], str | None]] = {
    # Security review item 4: `$` matched before a final newline.
    "owner-trailing-newline": ({"repository_owner": "my-org\n"}, {}, "repository_owner"),
    "distribution-trailing-newline": (
        {"distribution_name": "my-project\n"},
        {},
        "distribution_name",
    ),
    "package-trailing-newline": ({"package_name": "pkg\n"}, {}, "package_name"),
    "gcp-project-trailing-newline": (
        {**CLOUD_BUILD, "gcp_project_id": "my-gcp-project\n"},
        {},
        "gcp_project_id",
    ),
    "gitlab-owner-trailing-newline": (
        {**GITLAB, "repository_owner": "group/sub\n"},
        {},
        "repository_owner",
    ),
    "repository-name-trailing-newline": ({"repository_name": "repo\n"}, {}, "repository_name"),
    "year-trailing-newline": ({"copyright_year": "2026\n"}, {}, "copyright_year"),
    "email-trailing-newline": ({"author_email": "a@example.org\n"}, {}, "author_email"),
    # The README's organisation defaults, written as a YAML block scalar (`owner: |`).
    "settings-default-block-scalar": ({}, {"repository_owner": "acme\n"}, "repository_owner"),
    "settings-default-block-scalar-name": ({}, {"author_name": "Acme\n"}, "author_name"),
    # Line breaks YAML and Python know and a regex's $ does not.
    "nel-in-project-name": ({"project_name": "My\x85Project"}, {}, "project_name"),
    "line-separator-in-description": ({"description": "one\u2028two"}, {}, "description"),
    "paragraph-separator-in-author": ({"author_name": "A\u2029B"}, {}, "author_name"),
    "carriage-return-in-description": ({"description": "one\rtwo"}, {}, "description"),
    # Terminal escapes: refused, and the message shows them escaped.
    "escape-sequence-in-owner": ({"repository_owner": "\x1b[31mred"}, {}, "repository_owner"),
    "escape-sequence-in-project-name": ({"project_name": "x\x1b]0;pwned\x07"}, {}, "project_name"),
    "c1-csi-in-description": ({"description": "x\x9b31m"}, {}, "description"),
    # Trojan Source: bidirectional overrides and isolates, invisible characters.
    "rlo-in-author": ({"author_name": "Alice\u202eecilA"}, {}, "author_name"),
    "isolate-in-description": ({"description": "a\u2066b\u2069"}, {}, "description"),
    "arabic-letter-mark": ({"description": "a\u061cb"}, {}, "description"),
    "zero-width-space-in-project-name": ({"project_name": "My\u200bProject"}, {}, "project_name"),
    "zero-width-joiner-in-author": ({"author_name": "A\u200dB"}, {}, "author_name"),
    "word-joiner": ({"description": "a\u2060b"}, {}, "description"),
    "bom-leading-project-name": ({"project_name": "\ufeffMy Project"}, {}, "project_name"),
    "tag-characters": ({"description": "hi\U000e0069\U000e0067"}, {}, "description"),
    "soft-hyphen": ({"author_name": "Mül\xadler"}, {}, "author_name"),
    # What Python makes of a command line's bytes that are not UTF-8 (surrogateescape).
    "lone-surrogate-project-name": ({"project_name": "caf\udce9"}, {}, "project_name"),
    "lone-surrogate-owner": ({"repository_owner": "org\udcff"}, {}, "repository_owner"),
    "high-surrogate-description": ({"description": "x\ud800"}, {}, "description"),
    "noncharacter": ({"description": "x\ufffe"}, {}, "description"),
    # Found by hypothesis: core metadata cannot hold them.
    "email-leading-dot": ({"author_email": ".a@example.org"}, {}, "author_email"),
    "email-double-dot": ({"author_email": "a..b@example.org"}, {}, "author_email"),
    "email-domain-hyphen": ({"author_email": "a@-example.org"}, {}, "author_email"),
    "author-comma": ({"author_name": "Doe, Jane"}, {}, "author_name"),
    # poetry-core splits `Name <email>` at the first '<'.
    "author-angle-brackets": ({"author_name": "Jane <b>Doe</b>"}, {}, "author_name"),
    # Data given with the wrong type: the first question's validator names the key.
    "unknown-key": ({"projct_name": "Typo"}, {}, "project_name"),
    "number-for-text": ({"copyright_year": 2026}, {}, "project_name"),
    "hex-number-for-text": ({"repository_name": 16}, {}, "project_name"),
    "boolean-for-text": ({"description": True}, {}, "project_name"),
    "list-for-text": ({"description": ["a", "b"]}, {}, "project_name"),
    "null-for-text": ({"author_name": None}, {}, "project_name"),
    "bytes-for-text": ({"author_name": b"\xff"}, {}, "project_name"),
    # Odd but valid: rendered verbatim.
    "quotes-braces-unicode": (
        {
            "project_name": 'Widgets "Pro" \\ ${{ secrets.X }} {{ 7 * 7 }} {% raw %} ünïcødé 😀',
            "description": "Say \"hi\"; $(touch pwned) 'q' \\n é 日本 e\u0301 İ ß",
            "author_name": 'O\'Brien "Team" *bold* (x) \\ @ ; 😀',
            "author_email": "o.brien+dev@example.org",
        },
        {},
        None,
    ),
    "yaml-lookalikes": (
        {"project_name": "yes", "description": "null", "author_name": "- &a *a !!str"},
        {},
        None,
    ),
    "numbers-as-text": ({"project_name": "Widgets 0x10", "description": "1e3"}, {}, None),
    "copied-answers-file-keys": ({"_commit": "v99.0.0", "_src_path": "gh:x/y"}, {}, None),
    "gitlab-subgroups": ({**GITLAB, "repository_owner": "my-group/sub.group/x_y"}, {}, None),
}


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_regression(
    case: str, plain_template: Path, workdir: Path, pyproject_validator: Validator
) -> None:
    data, defaults, refuser = REGRESSIONS[case]
    dst, error = render(plain_template, workdir, data, defaults)
    if refuser is None:
        assert error is None, f"refused: {error}"
        given = {k: v for k, v in {**defaults, **data}.items() if not k.startswith("_")}
        assert_sound_project(dst, given, pyproject_validator)
        answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert answers.get("_commit") != "v99.0.0"
        wheel = built_wheel_metadata(dst)
        assert [str(requirement) for requirement in wheel.requires_dist or []] == DEPENDENCIES
        assert str(wheel.requires_python) == f">={answers['python_min']}"
        assert wheel.summary == answers["description"]
        assert email.utils.getaddresses([wheel.author_email]) == [
            (answers["author_name"], answers["author_email"])
        ]
    else:
        assert error is not None, f"{case} rendered; {refuser} should have refused it"
        assert_refused_cleanly(dst, error, {refuser})
    shutil.rmtree(dst.parent, ignore_errors=True)
