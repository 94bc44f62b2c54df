package gpu

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints inv for people: a header with the driver versions, then
// one block per GPU with its counters and processes. Fields NVML could not
// read print as "n/a" with NVML's reason.
func WriteTable(w io.Writer, inv Inventory) error {
	var b strings.Builder
	fmt.Fprintf(&b, "driver %s  CUDA %s  NVML %s\n", orNA(inv.DriverVersion), orNA(inv.CUDAVersion), orNA(inv.NVMLVersion))
	for _, g := range inv.GPUs {
		b.WriteString("\n")
		writeGPU(&b, g)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeGPU(b *strings.Builder, g GPU) {
	fmt.Fprintf(b, "GPU %d  %s  %s\n", g.Index, orNA(g.Name), orNA(g.UUID))
	if g.Err != "" {
		fmt.Fprintf(b, "  error: %s\n", g.Err)
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	na := func(field string) string {
		if why := g.Unavailable[field]; why != "" {
			return "n/a (" + why + ")"
		}
		return "n/a"
	}
	row := func(label, value string) { fmt.Fprintf(tw, "  %s\t%s\n", label, value) }

	if g.MemoryTotalBytes != nil && g.MemoryUsedBytes != nil {
		row("memory", formatBytes(*g.MemoryUsedBytes)+" used of "+formatBytes(*g.MemoryTotalBytes))
	} else {
		row("memory", na("memory"))
	}
	if g.UtilizationGPUPercent != nil && g.UtilizationMemoryPercent != nil {
		row("utilization", fmt.Sprintf("%d%% gpu, %d%% memory", *g.UtilizationGPUPercent, *g.UtilizationMemoryPercent))
	} else {
		row("utilization", na("utilization"))
	}
	if g.TemperatureC != nil {
		row("temperature", fmt.Sprintf("%d °C", *g.TemperatureC))
	} else {
		row("temperature", na("temperature_c"))
	}
	switch {
	case g.PowerDrawW != nil && g.PowerLimitW != nil:
		row("power", formatWatts(*g.PowerDrawW)+" of "+formatWatts(*g.PowerLimitW)+" limit")
	case g.PowerDrawW != nil:
		row("power", formatWatts(*g.PowerDrawW)+", limit "+na("power_limit_w"))
	default:
		row("power", na("power_draw_w"))
	}
	switch {
	case g.Processes == nil:
		row("processes", na("processes"))
	case len(g.Processes) == 0:
		row("processes", "none")
	default:
		fmt.Fprintln(tw, "  processes")
		tw.Flush()
		pw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(pw, "    PID\tKIND\tMEMORY\tNAME")
		for _, p := range g.Processes {
			mem := "-"
			if p.UsedMemoryBytes != nil {
				mem = formatBytes(*p.UsedMemoryBytes)
			}
			name := p.Name
			if name == "" {
				name = "-"
			}
			fmt.Fprintf(pw, "    %d\t%s\t%s\t%s\n", p.PID, p.Kind, mem, name)
		}
		pw.Flush()
		return
	}
	tw.Flush()
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// formatBytes prints GiB with one decimal, or whole MiB below 1 GiB.
func formatBytes(n uint64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// formatWatts prints at most one decimal: "120.5 W", "700 W".
func formatWatts(w float64) string {
	return strconv.FormatFloat(float64(int64(w*10+0.5))/10, 'f', -1, 64) + " W"
}
