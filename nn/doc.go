// Package nn holds the layers gradmesh models are built from: each one a
// hand-written forward and backward pass over flat parameter and activation
// slices, as llm.c writes GPT-2, with no autograd and no tensor type.
//
// Layers are generic over the element type. Models train in float32; the
// tests run the very same code in float64 to check every backward pass
// against finite differences, and the float32 code against golden values
// from PyTorch (testdata/golden, written by scripts/golden.py).
//
// Parameters follow PyTorch's modules: a layer lists its tensors in the
// order and with the names and shapes that the matching torch.nn module
// gives them (Linear's weight is out×in), so a parameter vector maps one to
// one onto a PyTorch state_dict.
package nn
