/**
 * The tool-call hook protocols gt guard speaks. All three agents send one JSON object on stdin and block a
 * tool call when the hook exits with status 2, showing the hook's stderr to the model:
 *
 *   Claude Code  PreToolUse  {session_id, cwd, hook_event_name:"PreToolUse", tool_name:"Bash"|"Edit"|…,
 *                             tool_input:{command}|{file_path,…}}; JSON answer (exit 0):
 *                             {hookSpecificOutput:{hookEventName:"PreToolUse", permissionDecision:"deny",
 *                             permissionDecisionReason}}
 *   Codex        PreToolUse  the same wire format (tool_name "Bash" for shell, "apply_patch" for edits,
 *                             plus turn_id); configured in .codex/hooks.json
 *   Gemini CLI   BeforeTool  {cwd, hook_event_name:"BeforeTool", tool_name:"run_shell_command"|"write_file"|
 *                             "replace"|…, tool_input:{command, dir_path?}|{file_path,…}}; JSON answer
 *                             {decision:"deny", reason}; stdout must hold nothing but that JSON
 *
 * We refuse with exit 2 + the reason on stderr (what every one of them honours) and also print the
 * protocol's JSON form of the refusal on stdout. Pure: parsing and formatting only.
 */
import { GuardInputError, type ToolCall, toolCallOf } from './policy';

export type HookProtocol = 'claude' | 'codex' | 'gemini';

export interface HookRequest {
  protocol: HookProtocol;
  call: ToolCall;
  /** Where the tool runs, when the agent said. */
  cwd?: string;
}

const GEMINI_TOOLS =
  /^(run_shell_command|write_file|replace|read_file|read_many_files|glob|search_file_content|list_directory|web_fetch|google_web_search|save_memory)$/;

/** Parses the hook's stdin; throws GuardInputError for anything it cannot read (the guard then refuses). */
export function parseHookInput(text: string, forced?: HookProtocol): HookRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GuardInputError(`hook input is not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GuardInputError('hook input is not a JSON object');
  }
  const obj = value as Record<string, unknown>;
  const tool = obj.tool_name;
  if (typeof tool !== 'string' || tool.length === 0) throw new GuardInputError('hook input has no tool_name');
  const input = obj.tool_input ?? obj.tool_args ?? {};
  if (typeof input !== 'object' || input === null)
    throw new GuardInputError('hook input has no tool_input object');
  const event = typeof obj.hook_event_name === 'string' ? obj.hook_event_name : '';
  const protocol: HookProtocol =
    forced ??
    (event === 'BeforeTool' || GEMINI_TOOLS.test(tool)
      ? 'gemini'
      : 'turn_id' in obj || tool === 'apply_patch'
        ? 'codex'
        : 'claude');
  const call = toolCallOf(tool, input);
  const cwd = typeof obj.cwd === 'string' && obj.cwd.length > 0 ? obj.cwd : undefined;
  return { protocol, call, ...(cwd !== undefined ? { cwd } : {}) };
}

export interface HookAnswer {
  exitCode: 0 | 2;
  stdout: string;
  stderr: string;
}

/** The hook's answer for a decision, in the protocol's terms. */
export function formatAnswer(protocol: HookProtocol, allow: boolean, reason = ''): HookAnswer {
  if (allow) return { exitCode: 0, stdout: protocol === 'gemini' ? '{}' : '', stderr: '' };
  const stdout =
    protocol === 'gemini'
      ? JSON.stringify({ decision: 'deny', reason })
      : JSON.stringify({
          decision: 'block',
          reason,
          hookSpecificOutput: {
            hookEventName: 'PreToolUse',
            permissionDecision: 'deny',
            permissionDecisionReason: reason,
          },
        });
  return { exitCode: 2, stdout, stderr: reason };
}
