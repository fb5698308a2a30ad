"""The engines' CI files (engines/github, engines/gitlab, engines/classroom):
parsed (miniyaml: their YAML subset, no library), their shard lists
compared with check_rates.py --shard's (every shard of the count, each
with a share of the cells, together all of them once), their commands
with racelab's. The Slurm scripts run for real in tests/cli/test_slurm.sh."""

import re
import unittest

from helpers import REPO, run_script

import miniyaml

ENGINES = REPO / "engines"


def load(rel):
    return miniyaml.parse((ENGINES / rel).read_text(), rel)


def listing(*args):
    code, out, err = run_script("check_rates.py", "--list", *args)
    if code != 0:
        raise AssertionError(err)
    return out.splitlines()


class Subset(unittest.TestCase):
    def test_the_parser(self):
        data = miniyaml.parse("a:\n  - x: 1\n    y: [1, \"2\"]\n  - b\nc: |\n  one\n  two\n"
                              "d:\n- e\n")
        self.assertEqual(data, {"a": [{"x": 1, "y": [1, "2"]}, "b"], "c": "one\ntwo\n",
                                "d": ["e"]})

    def test_what_is_outside_the_subset_is_refused(self):
        for text in ("a: {b: 1}\n", "a: 1 # why\n", "a: 1\na: 2\n", "- a\nb: 1\n",
                     "a: &x 1\n"):
            with self.subTest(text=text), self.assertRaises(ValueError):
                miniyaml.parse(text)


class Shards(unittest.TestCase):
    """Both CI files list shards 1..N and pass I/N to --shard; N is one
    check_rates.py accepts for the default plan, and the N shares make
    the whole plan once."""

    @classmethod
    def setUpClass(cls):
        cls.whole = sorted(listing())

    def assertShards(self, names, count):
        self.assertEqual([int(n) for n in names], list(range(1, count + 1)))
        parts = [listing("--shard", f"{i}/{count}") for i in range(1, count + 1)]
        self.assertTrue(all(parts), "every shard has cells")
        self.assertEqual(sorted(sum(parts, [])), self.whole)

    def test_github(self):
        wf = load("github/check-rates.yml")
        job = wf["jobs"]["shard"]
        count = int(job["env"]["SHARDS"])
        self.assertShards(job["strategy"]["matrix"]["shard"], count)
        runs = " ".join(s.get("run", "") for s in job["steps"])
        self.assertIn("./racelab check-rates --shard ${{ matrix.shard }}/$SHARDS "
                      "--results results/shard-${{ matrix.shard }} || [ $? -eq 1 ]", runs)
        upload = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload")]
        self.assertEqual(upload[0]["with"]["path"], "results/shard-${{ matrix.shard }}")
        merge = wf["jobs"]["merge"]
        self.assertEqual(merge["needs"], "shard")
        download = [s for s in merge["steps"] if s.get("uses", "").startswith("actions/download")]
        self.assertEqual(download[0]["with"], {"pattern": "shard-*", "path": "results"})
        self.assertIn("./racelab report --check --measured-only --results results",
                      " ".join(s.get("run", "") for s in merge["steps"]))

    def test_gitlab(self):
        ci = load("gitlab/check-rates.gitlab-ci.yml")
        job = ci["check-rates"]
        count = int(ci["variables"]["SHARDS"])
        self.assertShards(job["parallel"]["matrix"][0]["SHARD"], count)
        self.assertIn("./racelab check-rates --shard $SHARD/$SHARDS --results "
                      "results/shard-$SHARD || [ $? -eq 1 ]", job["script"])
        self.assertEqual(ci["stages"], ["measure", "merge"])
        self.assertEqual((job["stage"], ci["merge"]["stage"]), ("measure", "merge"))
        self.assertEqual(ci["merge"]["needs"], ["check-rates"])
        self.assertTrue(any(s.startswith("./racelab report --check --measured-only "
                                         "--results results") for s in ci["merge"]["script"]))

    def test_a_count_beyond_the_cells_is_refused(self):
        code, _, err = run_script("check_rates.py", "--list", "--shard",
                                  f"1/{len(self.whole) + 1}")
        self.assertEqual(code, 2, err)


class Classroom(unittest.TestCase):
    def test_the_autograding_workflow(self):
        wf = load("classroom/classroom.yml")
        self.assertIn("push", wf["on"])
        self.assertEqual(wf["permissions"]["checks"], "write")
        steps = wf["jobs"]["run-autograding-tests"]["steps"]
        graders = [s for s in steps
                   if s.get("uses") == "classroom-resources/autograding-command-grader@v1"]
        self.assertTrue(graders)
        for g in graders:
            m = re.fullmatch(r"scripts/grade\.py (\d+) --junit results/lab-(\d+)\.xml",
                             g["with"]["command"])
            self.assertTrue(m, g["with"]["command"])
            self.assertEqual(m[1], m[2])
            self.assertTrue(list(REPO.glob(f"labs/lab-{m[1]}-*/scenario.conf")), m[1])
            self.assertEqual((g["id"], g["with"]["test-name"]), (f"lab-{m[1]}", f"Lab {m[1]}"))
            self.assertEqual(g["with"]["max-score"], 100)
        reporter = [s for s in steps
                    if s.get("uses") == "classroom-resources/autograding-grading-reporter@v1"][0]
        ids = [g["id"] for g in graders]
        self.assertEqual(reporter["with"]["runners"].split(","), ids)
        self.assertEqual(sorted(reporter["env"]),
                         sorted(f"{i.upper()}_RESULTS" for i in ids))
        for i in ids:
            self.assertEqual(reporter["env"][f"{i.upper()}_RESULTS"],
                             f"${{{{steps.{i}.outputs.result}}}}")
        builds = " ".join(s.get("run", "") for s in steps)
        self.assertIn("scripts/deps.sh", builds)
        self.assertIn("make -s -j2 grading-build", builds)


if __name__ == "__main__":
    unittest.main()
