package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys walks a parsed file against the type it decodes into and
// describes every key the type has no field for, with the section it is in
// and the keys that section does accept. yaml.v3's own message names Go
// types ("field frobnicate not found in type config.Config"), which means
// nothing to someone editing the file.
func unknownKeys(file string, root *yaml.Node, t reflect.Type) []string {
	var out []string
	walkKeys(file, root, t, "", &out)
	return out
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func walkKeys(file string, n *yaml.Node, t reflect.Type, path string, out *[]string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			walkKeys(file, c, t, path, out)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that decodes itself accepts what it accepts.
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				*out = append(*out, fmt.Sprintf("%s: line %d: unknown key %q in %s; valid keys: %s",
					file, k.Line, k.Value, sectionName(path), strings.Join(sortedKeys(fields), ", ")))
				continue
			}
			walkKeys(file, v, f.Type, joinPath(path, k.Value), out)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkKeys(file, n.Content[i+1], t.Elem(), path+" "+strconv.Quote(n.Content[i].Value), out)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			walkKeys(file, c, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// yamlFields maps the keys a struct accepts to its fields, as yaml.v3
// decodes them: the tag's name, else the lower-cased field name; inline
// structs contribute their own keys.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sectionName(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
