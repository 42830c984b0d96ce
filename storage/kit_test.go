package storage_test

import (
	"testing"

	"github.com/bittern/bittern/storage"
	"github.com/bittern/bittern/storage/storagetest"
)

func TestMemoryConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return new(storage.Memory) })
}

func TestDirConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return &storage.Dir{Root: t.TempDir()} })
}

func TestDirConformanceSmallPool(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return &storage.Dir{Root: t.TempDir(), MaxOpenFiles: 1} })
}

func TestDirConformancePreallocated(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return &storage.Dir{Root: t.TempDir(), Preallocate: true} })
}
