package registry_test

import (
	"fmt"

	"github.com/wasmactor/wasmactor/registry"
)

func ExampleFactories_Resolve() {
	v1 := []byte("counter module v1")
	v2 := []byte("counter module v2")
	f := registry.NewFactories()
	f.Add(registry.ModuleInfo{Hash: registry.HashOf(v1), Size: int64(len(v1)), Factories: []string{"Counter"}, DeployedAt: 100})
	f.Add(registry.ModuleInfo{Hash: registry.HashOf(v2), Size: int64(len(v2)), Factories: []string{"Counter"}, DeployedAt: 200})

	_, newest, _ := f.Resolve("Counter")
	fmt.Println(newest.Hash == registry.HashOf(v2))

	_, pinned, _ := f.Resolve("Counter@" + registry.HashOf(v1).Short())
	fmt.Println(pinned.Hash == registry.HashOf(v1))

	_, _, err := f.Resolve("Missing")
	fmt.Println(err)
	// Output:
	// true
	// true
	// wasmactor: unknown factory: no deployed module exports "Missing"
}
