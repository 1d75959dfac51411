// The specs cover every capability of the host, one namespace per folder there.
global using CloonixActors.Host.Agent;
global using CloonixActors.Host.Api;
global using CloonixActors.Host.Containers;
global using CloonixActors.Host.Coordinator;
global using CloonixActors.Host.Lans;
global using CloonixActors.Host.Security;
global using CloonixActors.Host.Spy;
global using CloonixActors.Host.Vms;
