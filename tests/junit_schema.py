"""JUnit reports checked against the Jenkins xUnit schema (tests/schemas/junit-10.xsd, as published) and the
one attribute the reports add to it: `testcase@file`, the manifest, which GitLab reads for "copy failed tests" and
mikepenz/action-junit-report for its annotations, but which that schema does not list (see output/junit.py).

`validate(path)` proves both: the report is valid against the schema with exactly that attribute added, and,
with `file` taken out, against the schema as published."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

XSD = Path(__file__).resolve().parent / "schemas" / "junit-10.xsd"
STRICT = xmlschema.XMLSchema(str(XSD))

_TESTCASE_GROUP = '<xs:attribute name="group" type="xs:string"/>'
"""The last attribute of the schema's testcase element: `file` goes after it (testsuite's differs by a space)."""


def _with_file() -> xmlschema.XMLSchema:
    text = XSD.read_text()
    assert text.count(_TESTCASE_GROUP) == 1, "junit-10.xsd changed: find testcase's attributes anew"
    return xmlschema.XMLSchema(text.replace(
        _TESTCASE_GROUP, f'{_TESTCASE_GROUP}\n            <xs:attribute name="file" type="xs:string"/>'))


WITH_FILE = _with_file()


def validate(path: str | Path) -> None:
    WITH_FILE.validate(str(path))
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        case.attrib.pop("file", None)
    STRICT.validate(root)
