// Package cuda is gradmesh's GPU compute backend: a training.Backend whose
// MLPs run their forward and backward passes on an NVIDIA GPU with cuBLAS
// SGEMM and five small kernels (bias and ReLU, ReLU gradient, softmax
// cross-entropy and its gradient, evaluation, bias-gradient column sums).
// Models keep training.MLP's parameter layout, so GPU and CPU peers mix
// parameter vectors freely, and they agree with the CPU to float32 rounding.
//
// Nothing CUDA is needed to build gradmesh: the libraries are opened at run
// time with purego, and the kernels ship as PTX (kernels.ptx, generated from
// kernels.cu) that the driver compiles for the GPU it finds. At run time the
// backend needs the NVIDIA driver (libcuda.so.1, CUDA 11.8 or newer) and
// cuBLAS (libcublas.so.N with its libcublasLt.so.N, N at most the driver's
// CUDA major); libcudart is not needed, since cuBLAS carries its own runtime.
// Each library is looked for
//
//  1. by soname through the dynamic loader (LD_LIBRARY_PATH, ld.so.cache,
//     /usr/lib...),
//  2. in the directories of GRADMESH_CUDA_LIBS, colon separated,
//  3. in CUDA's usual homes ($CUDA_HOME/lib64, /usr/local/cuda,
//     /usr/local/nvidia, WSL),
//  4. in the nvidia-* wheels of Python installs (virtualenvs, conda, pyenv,
//     /usr/local, ~/.local): site-packages/nvidia/*/lib, which holds
//     PyTorch's cuBLAS (nvidia/cublas/lib for CUDA 12, nvidia/cu13/lib for
//     CUDA 13).
//
// Open fails with an error listing every path tried when a library is
// missing, and with the driver's own words when there is no usable GPU; it
// never crashes the process. OpenOrCPU turns any such failure into one log
// line and the CPU backend.
//
// Each LossGrad uploads the parameters (the peer mixes them on the CPU every
// round: about 1 MB for 784-256-128-10), the batch and its labels, and
// downloads the gradient and per-row losses; device buffers are allocated
// once per model for the largest batch seen. Arithmetic is plain FP32: no
// TF32, no fast math.
package cuda
