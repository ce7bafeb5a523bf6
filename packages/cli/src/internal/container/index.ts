// What `cachevol run --container-cache` loads, in a chunk of its own (run without it never does).
export { checkDockerd } from './docker-engine.js';
export { dockerService } from './docker-service.js';
