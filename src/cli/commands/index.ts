import type { Command } from 'commander';
import { register as agent } from './agent.js';
import { register as collect } from './collect.js';
import { register as config } from './config.js';
import { register as processor } from './processor.js';
import { register as replay } from './replay.js';
import { register as run } from './run.js';
import { register as topics } from './topics.js';

/** A subcommand registers itself on the root program. */
export type RegisterCommand = (program: Command) => void;

/** Every subcommand, in help order. Add a line when a command lands. */
export const commands: RegisterCommand[] = [run, agent, collect, config, topics, processor, replay];
