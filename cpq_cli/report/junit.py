"""JUnit XML for policy test results, as CI systems display it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from cpq_cli.policytest import CaseOutcome

# Characters XML 1.0 cannot hold at all (not even escaped): shown as \xNN so the report stays well-formed.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def junit_xml(outcomes: list[CaseOutcome]) -> str:
    failures = sum(1 for o in outcomes if not o.passed and o.error is None)
    errors = sum(1 for o in outcomes if o.error is not None)
    root = ET.Element("testsuites", name="cpq", tests=str(len(outcomes)), failures=str(failures),
                      errors=str(errors), time=f"{sum(o.seconds for o in outcomes):.3f}")
    for file, group in groupby(outcomes, key=lambda o: o.file):
        cases = list(group)
        suite = ET.SubElement(root, "testsuite", name=_x(file), tests=str(len(cases)),
                              failures=str(sum(1 for o in cases if not o.passed and o.error is None)),
                              errors=str(sum(1 for o in cases if o.error is not None)),
                              time=f"{sum(o.seconds for o in cases):.3f}")
        for case in cases:
            element = ET.SubElement(suite, "testcase", classname=_x(file), name=_x(case.name),
                                    time=f"{case.seconds:.3f}")
            if case.error is not None:
                ET.SubElement(element, "error", message=_x(case.error)).text = _x(case.error)
            elif not case.passed:
                failure = ET.SubElement(element, "failure", message=_x(case.failures[0]))
                failure.text = _x("\n".join(case.failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
