// Moved to infra/chaos/ (the chaos run uses it too); tests keep importing it from here.
export * from '../../infra/chaos/own-cluster';
