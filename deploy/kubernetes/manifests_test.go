package kubernetes

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifests are the decoded objects of every YAML document in this directory.
type manifests struct {
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	custom       []map[string]any // ServiceMonitor, Certificate
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var m manifests
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if len(bytes.TrimSpace([]byte(doc))) == 0 {
				continue
			}
			if err := m.decode([]byte(doc)); err != nil {
				t.Fatalf("%s, document %d: %v", file, i, err)
			}
		}
	}
	return m
}

// decode decodes one document strictly: an unknown field or a wrong type
// is an error.
func (m *manifests) decode(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/StatefulSet":
		var o appsv1.StatefulSet
		if err := strict(doc, &o); err != nil {
			return err
		}
		m.statefulSets = append(m.statefulSets, o)
	case "v1/Service":
		var o corev1.Service
		if err := strict(doc, &o); err != nil {
			return err
		}
		m.services = append(m.services, o)
	case "monitoring.coreos.com/v1/ServiceMonitor", "cert-manager.io/v1/Certificate":
		var o map[string]any
		if err := strict(doc, &o); err != nil {
			return err
		}
		m.custom = append(m.custom, o)
	default:
		return errUnknownKind(tm)
	}
	return nil
}

// strict decodes YAML the way the API server's strict field validation
// does: duplicate keys, unknown fields, fields of the wrong case and wrong
// types are errors.
func strict(doc []byte, o any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, o)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

type errUnknownKind metav1.TypeMeta

func (e errUnknownKind) Error() string { return "unexpected kind " + e.APIVersion + "/" + e.Kind }

func TestStrictDecodeRejects(t *testing.T) {
	t.Parallel()
	testCases := []struct{ name, doc string }{
		{"unknown field", "apiVersion: v1\nkind: Service\nspec:\n  clusterAddress: None\n"},
		{"field of the wrong case", "apiVersion: v1\nkind: Service\nspec:\n  clusterIp: None\n"},
		{"duplicate field", "apiVersion: v1\nkind: Service\nspec:\n  type: ClusterIP\n  type: NodePort\n"},
		{"wrong type", "apiVersion: v1\nkind: Service\nspec:\n  ports:\n    - port: seventy\n"},
		{"unknown kind", "apiVersion: v1\nkind: Servise\n"},
	}
	for _, tc := range testCases {
		var m manifests
		if err := m.decode([]byte(tc.doc)); err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
	}
}

// field walks an unstructured object along path.
func field(o map[string]any, path ...string) any {
	var v any = o
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}
