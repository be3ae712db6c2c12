#!/usr/bin/env python3
"""Each house check fails on a small tree with a planted violation, naming
file:line, and passes on the same tree without it. CTest runs one class per
test (test_house_checks.py LayersCheck, ...).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(*command, env=None):
    """(exit code, stdout + stderr) of a command."""
    p = subprocess.run(command, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


class TreeTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="pouch-house-")
        self.addCleanup(shutil.rmtree, self.root)

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(textwrap.dedent(text))


class LayersCheck(TreeTest):
    RULES = "runtime:\nmodel: runtime\nphases: runtime model\n"

    def check(self, rules=RULES):
        self.write("layers.txt", rules)
        return run(sys.executable, os.path.join(HERE, "check_layers.py"), self.root,
                   os.path.join(self.root, "layers.txt"))

    def plant_clean_tree(self):
        self.write("runtime/tensor.h", "#pragma once\n#include <vector>\n")
        self.write("model/gpt.h", '#include "runtime/tensor.h"\n#include "gpt_config.h"\n#include <fmt/format.h>\n')
        self.write("model/gpt_config.h", "#pragma once\n")
        # Sub-folders of a layer count as the layer, by either spelling.
        self.write("phases/pretrain/curriculum.h", '#include "model/gpt.h"\n')
        self.write("phases/schedule/runner.cpp",
                   '#include "phases/pretrain/curriculum.h"\n#include "../pretrain/curriculum.h"\n')

    def test_clean_tree_passes(self):
        self.plant_clean_tree()
        rc, out = self.check()
        self.assertEqual(rc, 0, out)

    def test_upward_include_names_file_line_and_rule(self):
        self.plant_clean_tree()
        self.write("runtime/backend.cpp", '#include <cstdio>\n#include "model/gpt.h"\n')
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("runtime/backend.cpp:2: includes model/gpt.h (model/)", out)
        self.assertIn("lets runtime/ include no other folder", out)

    def test_include_from_a_sub_folder_is_checked_by_top_folder(self):
        self.plant_clean_tree()
        self.write("model/attention/dense.cpp", '#include "phases/schedule/runner.cpp"\n')
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("model/attention/dense.cpp:1:", out)
        self.assertIn("include only runtime", out)

    def test_folder_without_a_rule_fails(self):
        self.plant_clean_tree()
        self.write("serve/server.cpp", '#include "model/gpt.h"\n')
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("serve has C/C++ sources but no line", out)

    def test_ring_in_the_rules_fails(self):
        self.plant_clean_tree()
        rc, out = self.check(self.RULES.replace("runtime:\n", "runtime: phases\n"))
        self.assertEqual(rc, 1, out)
        self.assertIn("include each other in a ring", out)

    def test_repository_rules_are_well_formed(self):
        self.plant_clean_tree()
        with open(os.path.join(HERE, "layers.txt")) as f:
            rc, out = self.check(f.read())
        self.assertEqual(rc, 0, out)


class CommentPathsCheck(TreeTest):
    def check(self):
        self.write("foreign.txt", "# other projects' paths\ndev/data/data_common.py  llm.c's shard writer\n")
        return run(sys.executable, os.path.join(HERE, "check_comment_paths.py"), self.root,
                   os.path.join(self.root, "foreign.txt"))

    def plant_clean_tree(self):
        self.write("data/curriculum_sampler.h", "#pragma once\n")
        self.write(
            "phases/pretrain_phase.h", """\
            // Samples come from data/curriculum_sampler.h (see also
            // curriculum_sampler.h beside it, https://example.com/data/none.h, sys/types.h,
            // llm.c's dev/data/data_common.py)
            /* Multi-line: data/curriculum_sampler.h */
            const char* kText = "data/not_a_comment.h";  // a string is no comment
            const char* kRaw = R"x(// data/raw_string.h)x";
            int big = 1'000'000;  // digit separators are no character literal
            """)
        self.write("phases/CMakeLists.txt", '# builds phases/pretrain_phase.h\nset(X "#data/quoted.h")\n')

    def test_clean_tree_passes(self):
        self.plant_clean_tree()
        rc, out = self.check()
        self.assertEqual(rc, 0, out)

    def test_missing_path_in_cxx_comment_names_file_line(self):
        self.plant_clean_tree()
        self.write("model/gpt.h", "#pragma once\nint x;\n/* the formulas:\n   data/sample_sampler.h */\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("model/gpt.h:4: the comment names data/sample_sampler.h", out)

    def test_line_numbers_survive_an_unclosed_quote(self):
        self.plant_clean_tree()
        self.write("model/gpt.h", "#if 0\n#error 'the end\n#endif\n// data/missing.h\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("model/gpt.h:4: the comment names data/missing.h", out)

    def test_missing_path_in_hash_comment_fails(self):
        self.plant_clean_tree()
        self.write("scripts/run.sh", "#!/bin/sh\necho hi  # see model/missing.py\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("scripts/run.sh:2: the comment names model/missing.py", out)

    def test_path_into_a_folder_gone_from_the_tree_fails(self):
        self.plant_clean_tree()
        self.write("tests/checkpoint/test_fuzz.cpp", "// inputs of the fuzzer (fuzz/fuzz_load.cpp)\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("tests/checkpoint/test_fuzz.cpp:1: the comment names fuzz/fuzz_load.cpp", out)

    def test_path_into_a_new_sub_folder_passes_once_it_exists(self):
        self.plant_clean_tree()
        self.write("model/gpt.h", "// the schedule: phases/schedule/runner.h\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("model/gpt.h:1: the comment names phases/schedule/runner.h", out)
        self.write("phases/schedule/runner.h", "#pragma once\n")
        rc, out = self.check()
        self.assertEqual(rc, 0, out)


class MachinePathsCheck(TreeTest):
    # Assembled, as in the check itself, so that this file passes it.
    MACHINE_PATH = "/" + "work" + "/pouch/build"

    def check(self):
        return run(sys.executable, os.path.join(HERE, "check_machine_paths.py"), self.root)

    def test_machine_path_names_file_line(self):
        self.write("docs/guide.md", "Run it:\n\n    cd ~/pouch && build/launcher/pouch\n")
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.write("tests/cli/e2e.sh", f"#!/bin/sh\nbin={self.MACHINE_PATH}/pouch\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("tests/cli/e2e.sh:2: names " + "/" + "work" + "/", out)

    def test_each_machine_path_is_caught(self):
        for i, path in enumerate(["/" + "farm" + "/x", "/" + "root" + "/.cache/x", "/tmp/" + "clean-ci/x"]):
            self.write(f"f{i}.txt", f"at {path}\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("3 line(s)", out)

    def test_in_a_clone_only_tracked_files_are_read(self):
        self.write("README.md", "clean\n")
        self.assertEqual(run("git", "-C", self.root, "init", "-q")[0], 0)
        self.assertEqual(run("git", "-C", self.root, "add", "README.md")[0], 0)
        self.write("scratch.log", f"{self.MACHINE_PATH}\n")  # untracked: not the project's
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.assertEqual(run("git", "-C", self.root, "add", "scratch.log")[0], 0)
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("scratch.log:1:", out)


class FormatCheck(TreeTest):
    def check(self):
        return run(os.path.join(HERE, "check_format.sh"), self.root)

    def test_unformatted_source_fails_and_formatted_passes(self):
        shutil.copy(os.path.join(ROOT, ".clang-format"), self.root)
        self.write("runtime/ok.cpp", "int f() { return 0; }\n")
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.write("runtime/bad.cpp", "int  g( ){return 0;}\n")
        self.write("build/gen.cpp", "int  h( ){return 0;}\n")  # build output: not checked
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("runtime/bad.cpp:1:", out)
        self.assertNotIn("build/gen.cpp", out)


class DeviceGuardsCheck(TreeTest):
    def check(self):
        return run(sys.executable, os.path.join(HERE, "check_device_guards.py"), self.root)

    def plant_clean_tree(self):
        self.write("runtime/backend_registry.cpp", "#ifdef POUCH_CUDA\n#include \"runtime/cuda/cuda_backend.h\"\n#endif\n")
        self.write("parallel/communicator_registry.cpp", "#if defined(POUCH_NCCL) && POUCH_CUDA\n#endif\n")
        self.write("runtime/cuda/attention.cu", "#if __CUDA_ARCH__ >= 900\n#endif\n")
        self.write("model/gpt.cpp", "// POUCH_CUDA in a comment is fine\n#include <vector>\n")

    def test_clean_tree_passes(self):
        self.plant_clean_tree()
        rc, out = self.check()
        self.assertEqual(rc, 0, out)

    def test_branch_outside_a_registry_names_file_line(self):
        self.plant_clean_tree()
        self.write("model/gpt.cpp", "#include <vector>\n  #  ifdef POUCH_CUDA_SYNC\n#endif\n")
        self.write("parallel/nccl_communicator.h", "#pragma once\n#ifndef POUCH_NCCL\n#endif\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("model/gpt.cpp:2:", out)
        self.assertIn("parallel/nccl_communicator.h:2:", out)
        self.assertIn("2 problem(s)", out)

    def test_two_registries_in_one_layer_fail(self):
        self.plant_clean_tree()
        self.write("runtime/stream_registry.cpp", "#elif POUCH_CUDNN\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("runtime/: 2 registry files", out)


class OracleGate(unittest.TestCase):
    """cli_order_oracle.py without torch: skipped (77) locally, failed (1) in CI."""

    SCRIPT = os.path.join(ROOT, "tests", "oracle", "cli_order_oracle.py")
    # Runs the oracle with `import torch` failing, as on a machine without it.
    WITHOUT_TORCH = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = [sys.argv[1], 'pouch']; "
                     "runpy.run_path(sys.argv[0], run_name='__main__')")

    def oracle_without_torch(self, ci):
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        if ci is not None:
            env["CI"] = ci
        return run(sys.executable, "-c", self.WITHOUT_TORCH, self.SCRIPT, env=env)

    def test_skips_outside_ci(self):
        rc, out = self.oracle_without_torch(None)
        self.assertEqual(rc, 77, out)
        self.assertIn("skipped", out)
        rc, out = self.oracle_without_torch("")
        self.assertEqual(rc, 77, out)

    def test_fails_in_ci(self):
        rc, out = self.oracle_without_torch("true")
        self.assertEqual(rc, 1, out)
        self.assertIn("CI is set", out)


if __name__ == "__main__":
    unittest.main()
