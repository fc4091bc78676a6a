"""`arst bench`: training and stylizing speed (filled in by the GPU fast-path work)."""
