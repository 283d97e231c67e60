// The chat assistant's place: the panel (#chat-panel) stays hidden until the server has a
// chatbot. When it lands, this module probes for it and mounts its conversation view
// into the panel; the rest of the app only calls initChat and applies the task changes
// the assistant makes through the live channel like any other change.
export function initChat() {
  // No chatbot on this server yet: the panel stays hidden.
}
