package kubernetes

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const socketDir = "/run/snapsync"

func TestManifests(t *testing.T) {
	t.Parallel()
	m := load(t)
	if len(m.statefulSets) != 1 || len(m.services) != 1 || len(m.custom) != 2 {
		t.Fatalf("%d StatefulSets, %d Services, %d others", len(m.statefulSets), len(m.services), len(m.custom))
	}
	sts := m.statefulSets[0]
	om, side := container(t, sts, "om"), container(t, sts, "snapsync")
	checkMounts(t, sts, om, side)
	checkSecurity(t, side)
	checkProbesAndResources(t, side)
	checkService(t, m.services[0], sts)
	for _, o := range m.custom {
		checkCustom(t, o)
	}
}

func container(t *testing.T, sts appsv1.StatefulSet, name string) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(sts.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no container %q", name)
	}
	return sts.Spec.Template.Spec.Containers[i]
}

func mountPath(c corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// checkMounts: the metadata volume at one path in both containers, the
// socket directory an emptyDir both mount, and the sidecar's paths under them.
func checkMounts(t *testing.T, sts appsv1.StatefulSet, om, side corev1.Container) {
	t.Helper()
	if p := mountPath(om, "metadata"); p == "" || p != mountPath(side, "metadata") {
		t.Errorf("metadata mounted at %q (om) and %q (snapsync)", p, mountPath(side, "metadata"))
	}
	if !slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(c corev1.PersistentVolumeClaim) bool { return c.Name == "metadata" }) {
		t.Error("no volumeClaimTemplate metadata")
	}
	if mountPath(om, "snapsync-socket") != socketDir || mountPath(side, "snapsync-socket") != socketDir {
		t.Errorf("socket dir mounted at %q and %q", mountPath(om, "snapsync-socket"), mountPath(side, "snapsync-socket"))
	}
	vols := sts.Spec.Template.Spec.Volumes
	i := slices.IndexFunc(vols, func(v corev1.Volume) bool { return v.Name == "snapsync-socket" })
	if i < 0 || vols[i].EmptyDir == nil {
		t.Error("snapsync-socket is not an emptyDir")
	}
	meta := mountPath(side, "metadata")
	for _, want := range []string{"--local-listen=unix:" + socketDir + "/om.sock", "--allow-dest=" + meta,
		"--source=registry:" + meta + "/", "--work-dir=" + meta + "/", "--tls-ca=", "--allow-peer=", "--metrics-listen="} {
		if !slices.ContainsFunc(side.Args, func(a string) bool { return strings.HasPrefix(a, want) }) {
			t.Errorf("sidecar args lack %s…", want)
		}
	}
}

func checkSecurity(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("sidecar securityContext: %+v", sc)
	}
}

func checkProbesAndResources(t *testing.T, c corev1.Container) {
	t.Helper()
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.TCPSocket == nil || p.TCPSocket.Port.String() != "peer" {
			t.Errorf("%s probe: %+v", name, p)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["peer"] != 7600 || ports["metrics"] != 9090 {
		t.Errorf("ports %v", ports)
	}
	req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
	if req.String() != "128Mi" || lim.String() != "512Mi" {
		t.Errorf("memory request %s, limit %s", req.String(), lim.String())
	}
}

func checkService(t *testing.T, svc corev1.Service, sts appsv1.StatefulSet) {
	t.Helper()
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Name != sts.Spec.ServiceName {
		t.Errorf("service %s: clusterIP %q, StatefulSet serviceName %q", svc.Name, svc.Spec.ClusterIP, sts.Spec.ServiceName)
	}
	for k, v := range svc.Spec.Selector {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("service selects %s=%s; the pods do not carry it", k, v)
		}
	}
	names := []string{}
	for _, p := range svc.Spec.Ports {
		names = append(names, p.TargetPort.String())
	}
	if !slices.Contains(names, "peer") || !slices.Contains(names, "metrics") {
		t.Errorf("service target ports %v", names)
	}
}

// checkCustom checks the fields a ServiceMonitor and a Certificate need.
func checkCustom(t *testing.T, o map[string]any) {
	t.Helper()
	switch field(o, "kind") {
	case "ServiceMonitor":
		eps, _ := field(o, "spec", "endpoints").([]any)
		if len(eps) == 0 || field(o, "spec", "selector", "matchLabels") == nil || field(o, "metadata", "name") == nil {
			t.Fatalf("ServiceMonitor lacks name, selector or endpoints: %v", o)
		}
		for _, ep := range eps {
			e, _ := ep.(map[string]any)
			if e["port"] != "metrics" || e["path"] != "/metrics" {
				t.Errorf("ServiceMonitor endpoint %v", e)
			}
		}
	case "Certificate":
		if field(o, "spec", "secretName") != "om-snapsync-tls" || field(o, "spec", "issuerRef", "name") == nil {
			t.Errorf("Certificate: %v", o["spec"])
		}
	}
}
