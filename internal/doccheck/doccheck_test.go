// Package doccheck holds a test that every exported identifier of the
// module's library packages has a doc comment.
package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportedIdentifiersDocumented walks the module's non-test Go files
// outside examples/, internal/ and conformance/ and fails for each exported
// function, method (on an exported type), type, constant and variable that
// has no doc comment, and for each exported field of a configuration
// struct (named Config or *Options) without one. A constant or variable in
// a documented group counts as documented; Error, String and Unwrap
// methods, which say what they are by their name, are exempt.
func TestExportedIdentifiersDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var missing []string
	report := func(pos token.Pos, what string) {
		p := fset.Position(pos)
		rel, _ := filepath.Rel(root, p.Filename)
		missing = append(missing, rel+":"+itoa(p.Line)+": "+what)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || rel == "examples" || rel == "internal" || rel == "conformance") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		checkFile(f, report)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("no doc comment: %s", m)
	}
}

func checkFile(f *ast.File, report func(token.Pos, string)) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || d.Doc != nil {
				continue
			}
			if d.Recv != nil {
				recv := receiverName(d.Recv.List[0].Type)
				if !ast.IsExported(recv) || selfDescribing[d.Name.Name] {
					continue
				}
				report(d.Pos(), "method "+recv+"."+d.Name.Name)
				continue
			}
			report(d.Pos(), "func "+d.Name.Name)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && d.Doc == nil {
						report(s.Pos(), "type "+s.Name.Name)
					}
					if st, ok := s.Type.(*ast.StructType); ok && isConfig(s.Name.Name) {
						checkFields(s.Name.Name, st, report)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							report(n.Pos(), d.Tok.String()+" "+n.Name)
						}
					}
				}
			}
		}
	}
}

// selfDescribing names methods that need no doc comment.
var selfDescribing = map[string]bool{"Error": true, "String": true, "Unwrap": true}

// isConfig reports whether a struct type is a configuration whose every
// field must say what it does (and what its zero value means).
func isConfig(name string) bool { return name == "Config" || strings.HasSuffix(name, "Options") }

// checkFields reports exported fields of an exported struct type without a
// doc or line comment. Embedded fields are exempt.
func checkFields(typ string, st *ast.StructType, report func(token.Pos, string)) {
	for _, fld := range st.Fields.List {
		if fld.Doc != nil || fld.Comment != nil {
			continue
		}
		for _, n := range fld.Names {
			if n.IsExported() {
				report(n.Pos(), "field "+typ+"."+n.Name)
			}
		}
	}
}

func receiverName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return receiverName(x.X)
	case *ast.IndexExpr:
		return receiverName(x.X)
	case *ast.IndexListExpr:
		return receiverName(x.X)
	case *ast.Ident:
		return x.Name
	}
	return ""
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
