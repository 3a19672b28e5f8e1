package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Plugin is one entry of `plugins:`: a plugin compiled into the binary,
// selected by name, with its own options (docs/PLUGINS.md).
//
//	plugins:
//	  - name: audit
//	    options: {file: audit.log}
type Plugin struct {
	Name    string        `yaml:"name"`
	Options PluginOptions `yaml:"options"`
}

// PluginOptions hold a plugin's `options:` as written, for the plugin to
// decode into its own type: the configuration does not know the plugins'
// keys, the plugins do (they reject unknown ones themselves).
type PluginOptions struct {
	node *yaml.Node
}

// UnmarshalYAML keeps the section for Decode.
func (o *PluginOptions) UnmarshalYAML(n *yaml.Node) error {
	o.node = n
	return nil
}

// Decode decodes the options into v, refusing keys v has no field for;
// with no options it leaves v alone.
func (o PluginOptions) Decode(v any) error {
	if o.node == nil || o.node.Kind == 0 || (o.node.Kind == yaml.ScalarNode && o.node.Tag == "!!null") {
		return nil
	}
	var bad []string
	walkKeys("", o.node, reflect.TypeOf(v), "options", &bad)
	if len(bad) > 0 {
		// "line 6: unknown key "x" in options; valid keys: ..."; the
		// caller names the plugin.
		return errors.New(strings.TrimPrefix(bad[0], ": "))
	}
	return o.node.Decode(v)
}

// OptionsFromYAML parses text as a plugin's options (tests and callers
// that build a configuration in code).
func OptionsFromYAML(text string) (PluginOptions, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		return PluginOptions{}, err
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return PluginOptions{node: n.Content[0]}, nil
	}
	return PluginOptions{node: &n}, nil
}

func validatePlugins(ps []Plugin) error {
	seen := map[string]bool{}
	for i, p := range ps {
		if p.Name == "" {
			return fmt.Errorf("plugins[%d]: name is required", i)
		}
		if seen[p.Name] {
			return fmt.Errorf("plugins: %q is listed twice", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}
