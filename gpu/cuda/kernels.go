package cuda

import (
	_ "embed"
	"fmt"
	"math"
)

// kernels.ptx is compiled from kernels.cu; regenerate it after editing the
// source (a test fails until you do). See scripts/cuda_ptx.sh.
//
//go:generate sh ../../scripts/cuda_ptx.sh kernels.cu kernels.ptx
//go:embed kernels.ptx
var kernelsPTX string

// What the PTX asks of the machine: nvcc 11.8 writes PTX ISA 7.8, which a
// driver for CUDA 11.8 or newer JIT-compiles, for target sm_75.
const (
	minDriverVersion     = 11080
	minComputeCapability = 75
)

// paramKind is the C type of one kernel parameter.
type paramKind uint8

const (
	paramPtr   paramKind = iota // a device pointer: PTX .u64
	paramInt                    // a C int: PTX .u32 or .s32
	paramFloat                  // a C float: PTX .f32
)

func (k paramKind) String() string {
	return [...]string{"pointer", "int", "float"}[k]
}

// kernelID names one kernel of kernels.cu.
type kernelID int

const (
	kernelBiasAct kernelID = iota
	kernelReluBackward
	kernelSoftmaxXent
	kernelXentEval
	kernelColSum
	numKernels
)

// kernelSpec is a kernel's entry name and parameter list, exactly as
// kernels.cu declares them; a test checks them against the embedded PTX.
type kernelSpec struct {
	name   string
	params []paramKind
}

var kernelSpecs = [numKernels]kernelSpec{
	kernelBiasAct:      {"gm_bias_act", []paramKind{paramPtr, paramPtr, paramInt, paramInt, paramInt}},
	kernelReluBackward: {"gm_relu_backward", []paramKind{paramPtr, paramPtr, paramInt}},
	kernelSoftmaxXent:  {"gm_softmax_xent", []paramKind{paramPtr, paramPtr, paramInt, paramInt, paramFloat, paramPtr, paramPtr}},
	kernelXentEval:     {"gm_xent_eval", []paramKind{paramPtr, paramPtr, paramInt, paramInt, paramPtr, paramPtr}},
	kernelColSum:       {"gm_col_sum", []paramKind{paramPtr, paramInt, paramInt, paramPtr}},
}

// maxKernelParams bounds the argument scratch of a launch.
const maxKernelParams = 8

// kernelArg is one launch argument, held as the bits the kernel reads.
type kernelArg struct {
	kind paramKind
	bits uint64
}

func ptrArg(p devicePtr) kernelArg { return kernelArg{paramPtr, uint64(p)} }
func floatArg(f float32) kernelArg { return kernelArg{paramFloat, uint64(math.Float32bits(f))} }

// intArg holds a C int; callers pass sizes already checked to fit.
func intArg(v int) kernelArg { return kernelArg{paramInt, uint64(uint32(int32(v)))} }

func boolArg(b bool) kernelArg {
	if b {
		return intArg(1)
	}
	return intArg(0)
}

// checkArgs refuses a launch whose arguments do not match the kernel's
// parameters: garbage arguments on a GPU corrupt memory or kill the context.
func checkArgs(k kernelID, args []kernelArg) error {
	spec := kernelSpecs[k]
	ok := len(args) == len(spec.params)
	for i := 0; ok && i < len(args); i++ {
		ok = args[i].kind == spec.params[i]
	}
	if !ok {
		got := make([]paramKind, len(args))
		for i, a := range args {
			got[i] = a.kind
		}
		return fmt.Errorf("cuda: kernel %s takes %v, got %v (a gradmesh bug)", spec.name, spec.params, got)
	}
	return nil
}

// Launch shape: blocks of 256 threads, as many as the work needs up to
// maxBlocks (enough to fill any current GPU several times over); the
// kernels' grid-stride loops cover the rest.
const (
	threadsPerBlock = 256
	maxBlocks       = 4096
)

func launchShape(items int) (grid, block uint32) {
	blocks := (items + threadsPerBlock - 1) / threadsPerBlock
	return uint32(max(1, min(blocks, maxBlocks))), threadsPerBlock
}
