-- The chat's conversations (POST /api/chat): each belongs to one user (the token's subject)
-- and keeps the context the next message needs (the tasks last shown, the task spoken of,
-- the last action for undo, a pending question or confirmation), so any api process can
-- answer the next message.
CREATE TABLE conversations (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    text        NOT NULL,
    title      text        NOT NULL DEFAULT '',
    context    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_recent ON conversations (user_id, updated_at DESC, id DESC);

-- One message of a conversation: the user's text, or the assistant's answer with the tool
-- calls it made ([{tool, arguments, result}]).
CREATE TABLE chat_messages (
    id              bigserial   PRIMARY KEY,
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            text        NOT NULL CHECK (role IN ('user', 'assistant')),
    content         text        NOT NULL,
    tool_calls      jsonb       NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);
