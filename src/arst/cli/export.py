"""`arst export`: a checkpoint as an ONNX file (arst.export)."""

from __future__ import annotations


def _export(p):
    p.add_argument("--checkpoint", required=True, help="a model.pt (or checkpoint.pt) from arst train")
    p.add_argument("--out", required=True, help="the ONNX file to write")

    def run(args):
        from ..export import PROBE_SIZE, TOLERANCE, export, require_onnx
        require_onnx()  # before loading torch's exporter: the one line that says what to install
        done = export(args.checkpoint, args.out)
        m = done["metadata"]
        print(f"{args.out}: {m['implementation']} ({m['style_layers']}), trained {m['training_steps']} steps, "
              f"loss network {m['loss_network']}, {done['bytes'] / 2**20:.1f} MB; onnxruntime vs torch at "
              f"{PROBE_SIZE[0]}x{PROBE_SIZE[1]} (HxW): max difference {done['max_difference']:.2g} grey levels (tolerance {TOLERANCE:g})")
    return run


SETUP = {"export": _export}
