package main

import (
	"reflect"
	"testing"

	"github.com/gradmesh/gradmesh/training"
)

func TestParseShapeReadsSquaresSizesAndTransposes(t *testing.T) {
	for in, want := range map[string]shape{
		"256":             {m: 256, n: 256, k: 256},
		"64x256x784":      {m: 64, n: 256, k: 784},
		"784x256x64:TN":   {m: 784, n: 256, k: 64, tA: true},
		" 64x256x128:NT ": {m: 64, n: 256, k: 128, tB: true},
	} {
		got, err := parseShape(in)
		if err != nil || got != want {
			t.Errorf("parseShape(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "64x256", "64x256x784:TX", "64x256x784:T", "axbxc"} {
		if _, err := parseShape(bad); err == nil {
			t.Errorf("parseShape(%q) accepted", bad)
		}
	}
}

func TestParseBenchModelTakesItsOwnShapeAndClasses(t *testing.T) {
	def := training.Shape{1, 28, 28}
	for in, want := range map[string]benchModel{
		"mlp:256,128":          {spec: "mlp:256,128", shape: def, classes: 10},
		"lenet5@1x28x28":       {spec: "lenet5", shape: training.Shape{1, 28, 28}, classes: 10},
		"gpt:2,64,2,32@33/65":  {spec: "gpt:2,64,2,32", shape: training.Shape{33}, classes: 65},
		"resnet:8@3x32x32/100": {spec: "resnet:8", shape: training.Shape{3, 32, 32}, classes: 100},
		"softmax@784":          {spec: "softmax", shape: training.Shape{784}, classes: 10},
	} {
		got, err := parseBenchModel(in, def, 10)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseBenchModel(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"mlp:8@0x28", "mlp:8@28/1", "mlp:8@28/x"} {
		if _, err := parseBenchModel(bad, def, 10); err == nil {
			t.Errorf("parseBenchModel(%q) accepted", bad)
		}
	}
}
