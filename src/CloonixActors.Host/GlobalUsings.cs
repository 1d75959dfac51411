// The host's capabilities, one folder and namespace each (see README "Layout"); they work together inside
// this assembly, so each sees the others without a using line per file.
global using CloonixActors.Host.Agent;
global using CloonixActors.Host.Api;
global using CloonixActors.Host.Containers;
global using CloonixActors.Host.Coordinator;
global using CloonixActors.Host.Lans;
global using CloonixActors.Host.Persistence;
global using CloonixActors.Host.Security;
global using CloonixActors.Host.Spy;
global using CloonixActors.Host.Vms;
