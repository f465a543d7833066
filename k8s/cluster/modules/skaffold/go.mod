module spillway.local/build/skaffold

go 1.26.0

require github.com/GoogleContainerTools/skaffold/v2 v2.19.0
replace github.com/alessio/shellescape => github.com/alessio/shellescape v1.4.2
replace github.com/imdario/mergo => github.com/imdario/mergo v0.3.16
replace github.com/buildpacks/lifecycle => github.com/buildpacks/lifecycle v0.20.5
replace github.com/buildpacks/pack => github.com/buildpacks/pack v0.38.2
replace github.com/buildpacks/imgutil => github.com/buildpacks/imgutil v0.0.0-20250909162057-9db16db815e3
replace github.com/google/go-containerregistry => github.com/google/go-containerregistry v0.21.2
replace github.com/dprotaso/go-yit => github.com/dprotaso/go-yit v0.0.0-20240618133044-5a0af90af097
replace k8s.io/apimachinery => k8s.io/apimachinery v0.33.4
replace k8s.io/api => k8s.io/api v0.33.4
replace k8s.io/client-go => k8s.io/client-go v0.33.4
replace k8s.io/kubectl => k8s.io/kubectl v0.33.4
replace k8s.io/kube-openapi => k8s.io/kube-openapi v0.0.0-20250628140032-d90c4fd18f59
