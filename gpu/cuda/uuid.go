package cuda

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/gradmesh/gradmesh/training"
)

// OpenUUID opens the GPU whose UUID NVML reports as uuid ("GPU-" and 32 hex
// digits in 8-4-4-4-12 groups, as nvidia-smi -L prints it). NVML numbers
// GPUs in PCI bus order and sees every GPU; CUDA numbers them fastest first
// and only those CUDA_VISIBLE_DEVICES leaves, so an NVML index is not a CUDA
// ordinal. The UUID names the same GPU in both.
func OpenUUID(uuid string) (training.Backend, error) {
	return openUUID(systemSearcher(), uuid)
}

func openUUID(s *searcher, uuid string) (training.Backend, error) {
	want, err := parseGPUUUID(uuid)
	if err != nil {
		return nil, err
	}
	ordinal, err := ordinalOf(s, want, uuid)
	if err != nil {
		return nil, err
	}
	return open(s, ordinal)
}

// parseGPUUUID reads an NVML GPU UUID into the 16 bytes CUDA reports.
func parseGPUUUID(uuid string) ([16]byte, error) {
	var id [16]byte
	digits, ok := strings.CutPrefix(uuid, "GPU-")
	groups := strings.Split(digits, "-")
	if !ok || len(groups) != 5 || len(groups[0]) != 8 || len(groups[1]) != 4 || len(groups[2]) != 4 ||
		len(groups[3]) != 4 || len(groups[4]) != 12 {
		return id, fmt.Errorf("cuda: GPU UUID %q: want GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx as NVML reports it (MIG instances are not supported)", uuid)
	}
	if _, err := hex.Decode(id[:], []byte(strings.Join(groups, ""))); err != nil {
		return id, fmt.Errorf("cuda: GPU UUID %q: %v", uuid, err)
	}
	return id, nil
}

// ordinalOf finds the CUDA ordinal of the GPU with UUID want.
func ordinalOf(s *searcher, want [16]byte, uuid string) (int, error) {
	libraries.Lock()
	defer libraries.Unlock()
	drv, err := initDriver(s)
	if err != nil {
		return 0, err
	}
	var count int32
	if err := drv.check("cuDeviceGetCount", drv.cuDeviceGetCount(&count)); err != nil {
		return 0, err
	}
	for i := range count {
		var dev int32
		var id [16]byte
		if err := drv.check("cuDeviceGet", drv.cuDeviceGet(&dev, i)); err != nil {
			return 0, err
		}
		if err := drv.check("cuDeviceGetUuid", drv.cuDeviceGetUuid(&id, dev)); err != nil {
			return 0, err
		}
		if id == want {
			return int(i), nil
		}
	}
	hint := ""
	if v, set := os.LookupEnv("CUDA_VISIBLE_DEVICES"); set {
		hint = fmt.Sprintf(" (CUDA_VISIBLE_DEVICES=%q hides the others)", v)
	}
	return 0, fmt.Errorf("cuda: no GPU with UUID %s among the %d the driver shows%s", uuid, count, hint)
}
