"""`arst export`: a checkpoint as an ONNX file (arst.export)."""

from __future__ import annotations


def _export(p):
    p.add_argument("--checkpoint", required=True, help="a model.pt (or checkpoint.pt) from arst train")
    p.add_argument("--out", required=True, help="the ONNX file to write")
    p.add_argument("--threads", type=int, help="CPU threads for torch and onnxruntime (default: torch's choice)")

    def run(args):
        from ..export import PROBE_SIZE, TOLERANCE, export, require_onnx
        require_onnx()  # before loading torch's exporter: the one line that says what to install
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)  # onnxruntime's session takes torch's count
        done = export(args.checkpoint, args.out)
        m = done["metadata"]
        print(f"{args.out}: {m['implementation']} ({m['style_layers']}), trained {m['training_steps']} steps, "
              f"loss network {m['loss_network']}, {done['bytes'] / 2**20:.1f} MB; onnxruntime vs torch at "
              f"{PROBE_SIZE[0]}x{PROBE_SIZE[1]} (HxW): max difference {done['max_difference']:.2g} grey levels (tolerance {TOLERANCE:g})")
    return run


SETUP = {"export": _export}
