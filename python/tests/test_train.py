"""Trainer: exact resume, DDP equals micro-batches, divergence stops with nothing written, bad input."""
import json
import os
import shutil
import subprocess
import unittest

import torch

from prunability_torch import safetensors_io
from prunability_torch.lab_io import load_model

from .helpers import PYTHON, PYTHON_DIR, run_cli, tmpdir, xs_data

BASE = ["--depth", "18", "--width", "0.125", "--input-size", "64x32", "--p", "4", "--k", "2", "--threads", "1",
        "--warmup-steps", "2", "--lr", "1e-3", "--log-every", "1"]


def weights(path):
    return safetensors_io.load(path)[0]


def max_rel_diff(a, b):
    worst = 0.0
    for k in a:
        if a[k].is_floating_point():
            scale = max(1e-6, a[k].abs().max().item())
            worst = max(worst, (a[k] - b[k]).abs().max().item() / scale)
    return worst


class TrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = xs_data()

    def setUp(self):
        self.dir = tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def train(self, out, *extra, env=None):
        return run_cli("train", "--data", self.data, *BASE, "--out", os.path.join(self.dir, out), *extra, env=env)

    def test_trains_and_writes_a_model_the_loader_reads(self):
        r = self.train("m.safetensors", "--steps", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        model, meta, notes = load_model(os.path.join(self.dir, "m.safetensors"))
        self.assertEqual(notes, [])  # spec in the metadata: nothing defaulted
        self.assertEqual(model.spec["input"], {"height": 64, "width": 32})
        self.assertIn('"steps":3', meta["prunability-lab.lineage"])

    def test_a_model_trained_from_another_carries_its_record(self):
        self.assertEqual(self.train("pre.safetensors", "--steps", "2").returncode, 0)
        r = self.train("src.safetensors", "--steps", "4", "--time-budget", "1e-9")  # stops after one step
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.train("src.safetensors", "--steps", "4", "--resume", "--init", os.path.join(self.dir, "pre.safetensors"))
        self.assertEqual(r.returncode, 0, r.stderr)
        record = json.loads(load_model(os.path.join(self.dir, "src.safetensors"))[1]["prunability-lab.lineage"])
        self.assertEqual(record["steps"], 4)
        self.assertEqual(record["resumedAtStep"], 1)  # its wallSeconds time steps 1-4 only
        self.assertEqual(record["previous"]["kind"], "train")
        self.assertEqual(record["previous"]["steps"], 2)
        self.assertNotIn("resumedAtStep", record["previous"])

    def test_resume_is_bit_exact(self):
        self.assertEqual(self.train("full.safetensors", "--steps", "6").returncode, 0)
        r = self.train("half.safetensors", "--steps", "6", "--time-budget", "1e-9")  # stops after one step
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopped at step 1 of 6", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "half.safetensors")))  # no model until the end
        r = self.train("half.safetensors", "--steps", "6", "--resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = weights(os.path.join(self.dir, "full.safetensors")), weights(os.path.join(self.dir, "half.safetensors"))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_sigterm_stops_at_a_checkpoint(self):
        import signal
        import time

        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
        out = os.path.join(self.dir, "t.safetensors")
        p = subprocess.Popen([PYTHON, "-m", "prunability_torch", "train", "--data", self.data, *BASE, "--steps", "100000", "--out", out],
                             cwd=PYTHON_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in p.stdout:  # wait until it trains
            if line.startswith("step 2/"):
                break
        p.send_signal(signal.SIGTERM)
        rest, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(rest, r"asked to stop: stopped at step \d+ of 100000")
        self.assertTrue(os.path.exists(out + ".ckpt"))
        self.assertFalse(os.path.exists(out))

    def test_two_processes_equal_one_process_with_two_micro_batches(self):
        r1 = self.train("single.safetensors", "--steps", "3", "--micro-batches", "2")
        self.assertEqual(r1.returncode, 0, r1.stderr)
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
        r2 = subprocess.run([PYTHON, "-m", "prunability_torch.torchrun", "--standalone", "--nproc_per_node", "2",
                             "-m", "prunability_torch", "train", "--data", self.data, *BASE, "--steps", "3",
                             "--out", os.path.join(self.dir, "ddp.safetensors")], cwd=PYTHON_DIR, env=env,
                            capture_output=True, text=True, timeout=600)
        self.assertEqual(r2.returncode, 0, r2.stderr[-2000:])
        a, b = weights(os.path.join(self.dir, "single.safetensors")), weights(os.path.join(self.dir, "ddp.safetensors"))
        self.assertLess(max_rel_diff(a, b), 1e-4)
        # and the split matters: one process without micro-batches trains another model
        r3 = self.train("plain.safetensors", "--steps", "3")
        self.assertEqual(r3.returncode, 0, r3.stderr)
        self.assertGreater(max_rel_diff(a, weights(os.path.join(self.dir, "plain.safetensors"))), 1e-3)

    def test_divergence_stops_with_a_sentence_and_writes_nothing(self):
        r = self.train("nan.safetensors", "--steps", "5", "--lr", "1e12", "--optimizer", "sgd")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"^error: (The loss became|A weight became) .*diverged")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "nan.safetensors")))

    def test_more_processes_than_the_batch_can_split(self):
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS="1")
        r = subprocess.run([PYTHON, "-m", "prunability_torch.torchrun", "--standalone", "--nproc_per_node", "3",
                            "-m", "prunability_torch", "train", "--data", self.data, *BASE, "--steps", "2",
                            "--out", os.path.join(self.dir, "x.safetensors")], cwd=PYTHON_DIR, env=env,
                           capture_output=True, text=True, timeout=600)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot be split evenly over 3 process(es)", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.safetensors")))

    def test_a_folder_without_images(self):
        empty = os.path.join(self.dir, "empty")
        os.makedirs(os.path.join(empty, "query"))
        os.makedirs(os.path.join(empty, "bounding_box_test"))
        r = run_cli("train", "--data", empty, *BASE, "--steps", "2", "--out", os.path.join(self.dir, "x.safetensors"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("no query or gallery images", r.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["empty"])


if __name__ == "__main__":
    unittest.main()
