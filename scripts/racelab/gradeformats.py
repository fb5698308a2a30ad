"""Grading's result in the formats courses read: Gradescope and JUnit.

Both are made from the result grade.py writes as grade.json (one lab's
dict, racelab.grade/1), so the three files never disagree.

Gradescope (results.json, the autograder specification's fields): one
test per verdict of each lab, named "Lab N HONEST", "Lab N SAFE", "Lab N
FAST", each with its score, max_score, status (passed or failed) and an
output holding the reason, the hint, the advice and, for a copy that does
not compile, the compiler's first lines. Scoring (POINTS):

  HONEST  0 points: a gate, not an achievement. A refused copy is not
          measured, so SAFE and FAST score 0 and their output says why.
  SAFE    70 points, all or nothing: one failed trial fails SAFE.
  FAST    30 points, only for a SAFE fix (speed counts for correct code).

A lab is worth 100; the overall score is the sum over the labs graded.
Everything is visible to the student (VISIBILITY): the reasons and hints
are the lesson. The grading log (stdout) is for the instructor only.

JUnit XML, for CI systems and GitHub Classroom: one testsuite per lab, one
testcase per verdict; a failed verdict has a <failure> whose message is
the reason, a verdict not run (HONEST refused, not SAFE) is <skipped>, and
one that could not be judged (the reference build failed: not the
student's fault) is an <error>.
"""

import xml.etree.ElementTree as ET

VERDICTS = ("honest", "safe", "fast")
POINTS = {"honest": 0, "safe": 70, "fast": 30}
VISIBILITY = "visible"
STDOUT_VISIBILITY = "hidden"


def labs_of(result):
    """The per-lab results of a grade.py result: one lab's dict, or the
    --all summary's "labs"."""
    return list(result["labs"]) if "labs" in result else [result]


def not_run(verdict):
    return verdict.get("pass") is None and str(verdict.get("reason") or "").startswith("not run")


def passed(lab, name):
    """Whether a verdict counts: it passed, and HONEST did (the gate)."""
    return lab["honest"].get("pass") is True and lab[name].get("pass") is True


def _scores(lab):
    """{verdict: points} of one lab, all or nothing each."""
    return {v: POINTS[v] if passed(lab, v) else 0 for v in VERDICTS}


def details(lab, name):
    """The lines a student reads under a verdict: the reason, the refusals,
    the compiler's lines, the stacks, the hint and the advice."""
    v = lab[name]
    lines = [v.get("reason") or ""]
    if name == "honest":
        refusals = v.get("refusals") or []
        if len(refusals) > 1:
            lines = [f"- {r['reason']}" for r in refusals]
        hints = [r["hint"] for r in refusals if r.get("hint")]
        lines += [f"hint: {h}" for h in dict.fromkeys(hints)]
        return lines
    if name == "safe" and (lab.get("build") or {}).get("errors"):
        lines += ["the compiler said:"] + [f"  {e}" for e in lab["build"]["errors"]]
    lines += [f"  | {s}" for s in v.get("stacks") or []]
    if v.get("hint"):
        lines.append(f"hint: {v['hint']}")
    for a in v.get("advice") or []:
        n = a.get("trials", 0)
        lines.append(f"advice ({n} trial{'s' if n != 1 else ''}, not counted): "
                     f"{a.get('example')}: {a.get('why')}")
    return lines


def _word(verdict):
    return {True: "yes", False: "NO", None: "-"}[verdict.get("pass")]


def summary(lab):
    """'Lab 1 (title): HONEST yes, SAFE NO, FAST -: 0 of 100 points'."""
    got = sum(_scores(lab).values())
    title = f" ({lab['title']})" if lab.get("title") else ""
    return (f"Lab {lab['lab']}{title}: "
            + ", ".join(f"{v.upper()} {_word(lab[v])}" for v in VERDICTS)
            + f": {got} of {sum(POINTS.values())} points")


def gradescope(result):
    """The results.json dict of a grade.py result."""
    labs = labs_of(result)
    tests = []
    for lab in labs:
        scores = _scores(lab)
        for i, name in enumerate(VERDICTS, 1):
            tests.append({"name": f"Lab {lab['lab']} {name.upper()}", "number": f"{lab['lab']}.{i}",
                          "score": scores[name], "max_score": POINTS[name],
                          "status": "passed" if passed(lab, name) else "failed",
                          "output": "\n".join(details(lab, name)),
                          "visibility": VISIBILITY})
    lines = [summary(lab) for lab in labs]
    tried = [lab["lab"] for lab in labs if lab["safe"].get("pass") is not None]
    if tried:
        lines.append("The reference fix, now that you have tried: "
                     + ", ".join(f"make answer-{n}" for n in tried) + " in your checkout.")
    return {"score": sum(t["score"] for t in tests),
            "execution_time": round(sum(lab.get("elapsed_s") or 0 for lab in labs)),
            "output": "\n".join(lines), "visibility": VISIBILITY,
            "stdout_visibility": STDOUT_VISIBILITY,
            "extra_data": {"racelab": [{"lab": lab["lab"], "passed": lab["passed"],
                                        "load": lab.get("load"), "cpus": lab.get("cpus")}
                                       for lab in labs]},
            "tests": tests}


def gradescope_failure(message, lab=None):
    """results.json for a submission that could not be graded at all (no
    module found, an edit outside it, a grader that failed): score 0, the
    message as the output, and lab's tests at 0 when the lab is known, so
    the student sees what the points are for."""
    out = {"score": 0, "output": message, "visibility": VISIBILITY,
           "stdout_visibility": STDOUT_VISIBILITY, "tests": []}
    if lab is not None:
        out["tests"] = [{"name": f"Lab {lab} {name.upper()}", "number": f"{lab}.{i}", "score": 0,
                         "max_score": POINTS[name], "status": "failed",
                         "output": message, "visibility": VISIBILITY}
                        for i, name in enumerate(VERDICTS, 1)]
    return out


def junit_failure(message, lab=None):
    """The JUnit document of a grading that did not happen: one error."""
    root = ET.Element("testsuites", name="racelab grading", tests="1", failures="0", errors="1",
                      skipped="0", time="0")
    suite = ET.SubElement(root, "testsuite", name=f"lab-{lab}" if lab else "racelab",
                          tests="1", failures="0", errors="1", skipped="0", time="0")
    case = ET.SubElement(suite, "testcase", classname="racelab", name="GRADING")
    ET.SubElement(case, "error", message=message, type="GRADING").text = message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def junit(result):
    """The JUnit XML document (bytes, UTF-8) of a grade.py result."""
    root = ET.Element("testsuites", name="racelab grading")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    elapsed = 0.0
    for lab in labs_of(result):
        suite = ET.SubElement(root, "testsuite", name=f"lab-{lab['lab']}",
                              timestamp=(lab.get("graded_at") or "").rstrip("Z"),
                              time=f"{lab.get('elapsed_s') or 0:.1f}")
        props = ET.SubElement(suite, "properties")
        for key in ("title", "passed", "load", "cpus"):
            ET.SubElement(props, "property", name=key, value=str(lab.get(key)))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for name in VERDICTS:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=f"racelab.lab-{lab['lab']}",
                                 name=name.upper())
            v = lab[name]
            if v.get("pass") is True:
                ET.SubElement(case, "system-out").text = "\n".join(details(lab, name))
                continue
            kind = ("skipped" if not_run(v) else "failure" if v.get("pass") is False
                    else "error")
            counts[{"skipped": "skipped", "failure": "failures", "error": "errors"}[kind]] += 1
            el = ET.SubElement(case, kind, message=v.get("reason") or "")
            if kind != "skipped":
                el.set("type", name.upper())
                el.text = "\n".join(details(lab, name))
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
        elapsed += lab.get("elapsed_s") or 0
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", f"{elapsed:.1f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
