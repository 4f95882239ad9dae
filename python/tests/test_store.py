"""mithril_checkpoint against the real CLI: run with MITHRIL_BIN="node <repo>/dist/src/bundle/main.js".

From the repo root: /usr/bin/python3 -m unittest discover -s python/tests -v
"""

import copy
import io
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import mithril_checkpoint as mc  # noqa: E402

try:
    import torch
except ImportError:  # the node test fails on CI instead of skipping
    torch = None

STEPS = 6
EVERY = 2


def train(on_checkpoint):
    """A tiny deterministic training loop; calls on_checkpoint(step, state) every EVERY steps."""
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 32)
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    inputs, targets = torch.randn(16, 64), torch.randn(16, 32)
    for step in range(1, STEPS + 1):
        optim.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optim.step()
        if step % EVERY == 0:
            on_checkpoint(step, {"step": step, "model": model.state_dict(), "optim": optim.state_dict()})


def assert_same(test, a, b, path="checkpoint"):
    if isinstance(a, torch.Tensor):
        test.assertIsInstance(b, torch.Tensor, path)
        test.assertEqual((a.dtype, a.shape), (b.dtype, b.shape), path)
        test.assertTrue(torch.equal(a, b), path)
    elif isinstance(a, dict):
        test.assertEqual(set(a), set(b), path)
        for key in a:
            assert_same(test, a[key], b[key], "%s.%s" % (path, key))
    elif isinstance(a, (list, tuple)):
        test.assertEqual(len(a), len(b), path)
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(test, x, y, "%s.%d" % (path, i))
    else:
        test.assertEqual(a, b, path)


@unittest.skipIf(torch is None, "torch is not installed")
class StoreTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mithril-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check_store(self, store, saved):
        listed = mc.entries(store)
        self.assertEqual([e["name"] for e in listed], list(saved))
        self.assertEqual(listed[0]["bases"], [])
        for entry in listed[1:]:
            self.assertTrue(entry["bases"], "%s is delta-coded" % entry["name"])
            self.assertGreater(entry["depth"], 0)
        for name, state in saved.items():
            assert_same(self, state, mc.load(store, name))
            out = os.path.join(self.dir, name + ".pt")
            self.assertEqual(mc.get(store, name, out), out)
            with open(out, "rb") as f:
                data = f.read()
            self.assertEqual(data, mc.get_bytes(store, name))
            self.assertEqual(len(data), next(e for e in listed if e["name"] == name)["size"])
            assert_same(self, state, torch.load(io.BytesIO(data)))
        mc.verify(store)

    def test_save_and_load_a_training_run(self):
        store = os.path.join(self.dir, "run")
        saved = {}

        def checkpoint(step, state):
            mc.save(state, store, "step%d" % step)
            saved["step%d" % step] = copy.deepcopy(state)

        train(checkpoint)
        self.check_store(store, saved)

    def test_background_saver(self):
        store = os.path.join(self.dir, "run")
        saved = {}
        with mc.Saver(store, max_pending=2) as saver:
            def checkpoint(step, state):
                saved["step%d" % step] = copy.deepcopy(state)
                saver.save(state, "step%d" % step)  # training goes on at once and changes the tensors in place

            train(checkpoint)
        self.check_store(store, saved)

    def test_add_a_file(self):
        store = os.path.join(self.dir, "run")
        path = os.path.join(self.dir, "model.pt")
        torch.save({"w": torch.arange(10.0)}, path)
        mc.add(store, path)
        mc.add(store, path, name="again")
        self.assertEqual([e["name"] for e in mc.entries(store)], ["model.pt", "again"])
        assert_same(self, {"w": torch.arange(10.0)}, mc.load(store, "again"))

    def test_add_a_checkpoint_folder_and_a_reference(self):
        store = os.path.join(self.dir, "run")
        reference = os.path.join(self.dir, "pretrained.pt")
        torch.manual_seed(1)
        base = {"w": torch.randn(256, 64), "b": torch.randn(256)}
        torch.save(base, reference)
        folders = []
        for step in (10, 20):
            folder = os.path.join(self.dir, "checkpoint-%d" % step)
            os.makedirs(folder)
            tuned = {k: v + 0.001 * step * torch.ones_like(v) for k, v in base.items()}
            torch.save(tuned, os.path.join(folder, "model.pt"))
            with open(os.path.join(folder, "trainer_state.json"), "w") as f:
                f.write('{"global_step": %d}\n' % step)
            mc.add(store, folder, reference=reference if step == 10 else None)
            folders.append(folder)
        listed = mc.entries(store)
        self.assertEqual([(e["name"], e["kind"]) for e in listed], [("checkpoint-10", "folder"), ("checkpoint-20", "folder")])
        self.assertEqual(listed[0]["bases"], [0], "coded against the reference")
        for folder in folders:
            out = os.path.join(self.dir, "restored-" + os.path.basename(folder))
            mc.get(store, os.path.basename(folder), out)
            for name in ("model.pt", "trainer_state.json"):
                with open(os.path.join(folder, name), "rb") as a, open(os.path.join(out, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name)
        mc.verify(store)

    def test_errors_carry_the_cli_message(self):
        store = os.path.join(self.dir, "run")
        mc.save({"w": torch.zeros(3)}, store, "a")
        with self.assertRaises(mc.MithrilError) as caught:
            mc.load(store, "nope")
        self.assertEqual(caught.exception.code, 1)
        self.assertIn('has no entry named "nope"', caught.exception.message)
        self.assertFalse(caught.exception.message.startswith("mithril:"))
        self.assertEqual(str(caught.exception), caught.exception.message)
        with self.assertRaises(mc.MithrilError) as caught:
            mc.entries(os.path.join(self.dir, "missing"))
        self.assertIn("no such store", caught.exception.message)

    def test_saver_reports_the_first_error(self):
        store = os.path.join(self.dir, "run")
        saver = mc.Saver(store)
        saver.save({"w": torch.zeros(3)}, "a")
        saver.save({"w": torch.ones(3)}, "a")  # a second entry named "a": the CLI refuses it
        saver.save({"w": torch.ones(3)}, "b")  # later saves still run
        with self.assertRaises(mc.MithrilError) as caught:
            saver.wait()
        self.assertEqual(caught.exception.code, 1)
        self.assertIn('already has an entry named "a"', caught.exception.message)
        saver.wait()  # reported once
        saver.close()
        self.assertEqual([e["name"] for e in mc.entries(store)], ["a", "b"])


class CommandTest(unittest.TestCase):
    def test_missing_command(self):
        old = os.environ.get("MITHRIL_BIN")
        os.environ["MITHRIL_BIN"] = "/nonexistent/mithril-bin"
        try:
            with self.assertRaises(mc.MithrilError) as caught:
                mc.entries("x")
            self.assertIsNone(caught.exception.code)
            self.assertIn("cannot run", caught.exception.message)
        finally:
            if old is None:
                del os.environ["MITHRIL_BIN"]
            else:
                os.environ["MITHRIL_BIN"] = old


if __name__ == "__main__":
    unittest.main()
