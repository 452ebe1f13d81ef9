//! Conversations and what is in them: the conversation rooms of a care team,
//! timelines, attachments, the offline send queue (UC7) and urgent messages.

pub mod attachment;
pub mod conversation;
pub mod rooms;
pub mod send_queue;
pub mod timeline;
pub mod urgent;

#[cfg(test)]
mod queue_store_tests;
