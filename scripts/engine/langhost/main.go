// Command pulumi-language-nodejs is release-infra's own Node.js language host for the Pulumi CLI.
//
// It is ours because the Go module proxy does not serve Pulumi's: every version of
// github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 answers "403 Forbidden ... This
// module version is not available", and the newest host the proxy does serve (in sdk/v3 v3.68.0)
// cannot serve a CLI 3.248: its RunPlugin answers "not supported" and it reads the runtime options
// from command-line flags the CLI no longer passes. Everything else in the loop is Pulumi's own:
// the CLI and engine, the analyzer host, and @pulumi/pulumi's cmd/run (its vendored ts-node) and
// cmd/run-policy-pack, which this host only starts.
//
// The contract follows Pulumi's host (pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs/main.go):
// print the gRPC port, then per Run spawn `node [nodeargs] <@pulumi/pulumi/cmd/run> --monitor ...
// <program>` with the stack config in PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS, and the
// `typescript`, `tsconfig` and `nodeargs` runtime options of Pulumi.yaml, which the CLI sends in
// ProgramInfo (sdk/go/common/resource/plugin/langruntime_plugin.go passes only the engine address
// on the command line).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// bailExitCode is what @pulumi/pulumi's cmd/run exits with after it reported the error itself
// (run/index.js): the engine then prints no second message.
const bailExitCode = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	args := []string{}
	for _, a := range os.Args[1:] {
		// The CLI may add flags such as -tracing before the engine address; none matters here.
		if !strings.HasPrefix(a, "-") {
			args = append(args, a)
		}
	}
	h := &host{}
	if len(args) > 0 {
		h.engineAddress = args[len(args)-1]
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
	server := grpc.NewServer()
	pulumirpc.RegisterLanguageRuntimeServer(server, h)
	fmt.Printf("%d\n", listener.Addr().(*net.TCPAddr).Port)
	if err := server.Serve(listener); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// options reads the runtime options of Pulumi.yaml (or PulumiPolicy.yaml).
type options struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func readOptions(info *pulumirpc.ProgramInfo) options {
	o := options{typescript: true}
	fields := info.GetOptions().GetFields()
	if v, ok := fields["typescript"]; ok {
		if b, isBool := v.GetKind().(*structpb.Value_BoolValue); isBool {
			o.typescript = b.BoolValue
		}
	}
	o.tsconfig = fields["tsconfig"].GetStringValue()
	if args := fields["nodeargs"].GetStringValue(); args != "" {
		o.nodeargs = strings.Fields(args)
	}
	return o
}

// resolve finds module `id` the way Node would from `dir` (its node_modules, then each parent's).
func resolve(dir, id string) (string, error) {
	out, err := exec.Command("node", "-p", fmt.Sprintf("require.resolve(%q, { paths: [%q] })", id, dir)).Output()
	if err != nil {
		return "", fmt.Errorf("%s is not installed for %s: run npm ci", id, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

// packageJSON is what a package.json tells about a Pulumi provider package.
type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackage(path string) (packageJSON, error) {
	var p packageJSON
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(b, &p)
}

// providerPackages lists the installed packages whose package.json says they need a resource
// plugin, with the plugin's name and version from its `pulumi` field (as Pulumi's host does), in
// the node_modules of the program directory: the top-level and scoped packages.
func providerPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	modules := filepath.Join(dir, "node_modules")
	entries, err := os.ReadDir(modules)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w (run npm ci)", modules, err)
	}
	var packageDirs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			scoped, err := os.ReadDir(filepath.Join(modules, e.Name()))
			if err != nil {
				return nil, err
			}
			for _, s := range scoped {
				packageDirs = append(packageDirs, filepath.Join(modules, e.Name(), s.Name()))
			}
		} else {
			packageDirs = append(packageDirs, filepath.Join(modules, e.Name()))
		}
	}
	var deps []*pulumirpc.PackageDependency
	for _, p := range packageDirs {
		info, err := readPackage(filepath.Join(p, "package.json"))
		if err != nil || !info.Pulumi.Resource {
			continue
		}
		name := info.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(info.Name, "@pulumi/"), "@")
		}
		v := info.Pulumi.Version
		if v == "" {
			v = info.Version
		}
		deps = append(deps, &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: "v" + strings.TrimPrefix(v, "v"), Server: info.Pulumi.Server})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return deps, nil
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := providerPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := providerPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// runEnv is the environment cmd/run and cmd/run-policy-pack read their settings from.
func runEnv(o options, root string) []string {
	env := os.Environ()
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%t", o.typescript))
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+filepath.Join(root, o.tsconfig))
	}
	return env
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	o := readOptions(info)
	runPath, err := resolve(info.GetProgramDirectory(), "@pulumi/pulumi/cmd/run")
	if err != nil {
		return nil, err
	}
	args := append(append([]string{}, o.nodeargs...), runPath)
	flag := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engineAddress)
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("root-directory", info.GetRootDirectory())
	flag("stack", req.GetStack())
	flag("pwd", req.GetPwd())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if req.GetParallel() > 0 {
		flag("parallel", fmt.Sprint(req.GetParallel()))
	}
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(append(args, entry), req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = append(runEnv(o, info.GetRootDirectory()), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// streamWriter forwards a plugin's output to the CLI as RunPluginResponse messages.
type streamWriter struct {
	send func([]byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	if err := w.send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunPlugin runs a plugin written in Node.js; the CLI runs a Node.js policy pack this way
// (analyzer_plugin.go NewPolicyAnalyzer) with @pulumi/pulumi's cmd/run-policy-pack.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, stream grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	info := req.GetInfo()
	o := readOptions(info)
	command := "@pulumi/pulumi/cmd/run-plugin"
	if req.GetKind() == "analyzer" {
		command = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	runPath, err := resolve(info.GetProgramDirectory(), command)
	if err != nil {
		return err
	}
	args := append(append(append([]string{}, o.nodeargs...), runPath), req.GetArgs()...)
	args = append(args, info.GetProgramDirectory())
	cmd := exec.CommandContext(stream.Context(), "node", args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(runEnv(o, info.GetRootDirectory()), req.GetEnv()...)
	sendOut := func(b []byte) error {
		return stream.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	}
	sendErr := func(b []byte) error {
		return stream.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	}
	if err := streamCommand(cmd, sendOut, sendErr); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		return stream.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exit.ExitCode())}})
	}
	return stream.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: 0}})
}

// streamCommand runs cmd, handing its stdout and stderr to the senders line by line as they come
// (a policy pack prints its port on stdout and keeps running). gRPC streams allow one sender at a
// time, so both pipes feed one channel.
func streamCommand(cmd *exec.Cmd, sendOut, sendErr func([]byte) error) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	type chunk struct {
		out  bool
		data []byte
	}
	chunks := make(chan chunk)
	pump := func(r io.Reader, out bool, done chan<- struct{}) {
		reader := bufio.NewReader(r)
		for {
			line, err := reader.ReadBytes('\n')
			if len(line) > 0 {
				chunks <- chunk{out, line}
			}
			if err != nil {
				done <- struct{}{}
				return
			}
		}
	}
	done := make(chan struct{}, 2)
	go pump(stdout, true, done)
	go pump(stderr, false, done)
	var sendErrOnce error
	for open := 2; open > 0; {
		select {
		case c := <-chunks:
			send := sendErr
			if c.out {
				send = sendOut
			}
			if err := send(c.data); err != nil && sendErrOnce == nil {
				sendErrOnce = err
			}
		case <-done:
			open--
		}
	}
	waitErr := cmd.Wait()
	if waitErr != nil {
		return waitErr
	}
	return sendErrOnce
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	dir := req.GetInfo().GetRootDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	// From the lock file, as the project's CI does.
	cmd := exec.CommandContext(stream.Context(), "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	return streamCommand(cmd,
		func(b []byte) error { return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b}) },
		func(b []byte) error { return stream.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b}) })
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), Metadata: map[string]string{"host": "release-infra scripts/engine/langhost"}}, nil
}

// GetProgramDependencies lists package.json's dependencies at their installed versions.
func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	project, err := readPackage(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var deps []*pulumirpc.DependencyInfo
	for name := range project.Dependencies {
		installed, err := readPackage(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return nil, fmt.Errorf("%s is not installed: run npm ci", name)
		}
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: installed.Version})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
