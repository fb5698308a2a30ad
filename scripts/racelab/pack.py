"""A course pack: a folder of plain C programs and one expectations table.

  packs/NAME/*.c           one program per file, each with its own main()
                           and a DataRaceBench-style header: its race pair,
                           or 'Data race pair: none' (racelab/run.py); the
                           file name ends in -yes.c when it races, -no.c
                           when it does not, as DataRaceBench's do
  packs/NAME/expected.tsv  the expected table, in a lab table's format
                           (racelab/expected.py), with the program's name
                           (its file name without .c) in the lab column and
                           config 'default'

The check (racelab check-pack DIR) runs every program under every tool its
rows name, K trials each, writes the records (racelab run's, so racelab
report reads them), and judges each cell as report.py --check does: out of
band, tool errors, or a row with no trials fail it, and so do a pack with
no table and a program with no row, each with one line.
"""

import tempfile
from pathlib import Path

from . import expected
from . import run as prog
from .cli import Failure
from .scenario import shown

TABLE = "expected.tsv"


class Pack:
    def __init__(self, folder):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise Failure(f"no pack folder {folder}")
        self.table_path = self.folder / TABLE
        self.programs = {p.stem: p for p in sorted(self.folder.glob("*.c"))}
        if not self.programs:
            raise Failure(f"{shown(self.folder)} holds no program (*.c)")

    def problems(self):
        """Why the pack cannot be checked: [line], empty when it can."""
        if not self.table_path.is_file():
            return [f"{shown(self.folder)} has no expectations table ({TABLE}): its "
                    f"programs' rates cannot be checked"]
        table = self.table()
        named = {key[0] for key in table}
        out = [f"{shown(self.folder / (name + '.c'))} has no row in {shown(self.table_path)}: "
               f"its rates cannot be checked" for name in self.programs if name not in named]
        out += [f"{shown(self.table_path)}: rows for {name}, which is not a program of the "
                f"pack" for name in sorted(map(str, named - set(self.programs)))]
        return out

    def table(self):
        return expected.read_dir(self.table_path)

    def cells(self, only=None, tool_names=None):
        """[(program name, [tool name, ...])] to run, from the table's rows."""
        by_program = {}
        for (name, build, tool, config) in self.table():
            if only and name not in only or tool_names and tool not in tool_names:
                continue
            if tool not in prog.TOOL_NAMES:
                raise Failure(f"{shown(self.table_path)}: unknown tool '{tool}' for {name}")
            by_program.setdefault(name, {})[tool] = build
        return sorted((name, builds) for name, builds in by_program.items())


def run_program(pack, name, builds, trials, timeout, say=None):
    """Compiles one program and runs its tools: {Tool: records}. Failure
    when the table's build disagrees with the program's header."""
    program = prog.Program([pack.programs[name]])
    decl = prog.declared(program)
    for tool, build in builds.items():
        if build != decl.build:
            raise Failure(f"{shown(pack.table_path)}: {name} {tool} is a {build} row, but "
                          f"{shown(pack.programs[name])} declares "
                          + ("a race" if decl.build == "broken" else "no race"
                             if decl.build else "nothing (no 'pair:' line)"))
    chosen = prog.check_tools(list(builds))
    by_tool = {}
    with tempfile.TemporaryDirectory(prefix="racelab-pack-") as build_dir:
        exes = prog.compile_all(program, sorted({prog.FLAVOUR[t.name] for t in chosen}),
                                build_dir)
        for tool in chosen:
            k = trials[1] if tool.report == "valgrind-xml" else trials[0]
            by_tool[tool] = prog.run_tool(program, tool, exes[prog.FLAVOUR[tool.name]], k,
                                          timeout, decl, say)
    return by_tool


