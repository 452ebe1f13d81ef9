//! Mail out (lettre over SMTP): validation codes and invitations. The texts
//! name the inviter, the organisation and how to join; never the client,
//! the room or the care team, since a mail leaves the care platform.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use crate::{config::Smtp, error::IsError};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// A mail as this service writes it.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    pub fn new(smtp: &Smtp) -> Result<Self, IsError> {
        let from = smtp.from.parse().map_err(|e| IsError::Internal(format!("smtp.from: {e}")))?;
        let builder = if smtp.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(|e| IsError::Internal(format!("smtp: {e}")))?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        };
        Ok(Self { transport: builder.port(smtp.port).build(), from })
    }

    pub async fn send(&self, mail: Mail) -> Result<(), IsError> {
        let to: Mailbox = mail.to.parse().map_err(|_| IsError::EmailInvalid)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| IsError::Internal(format!("mail: {e}")))?;
        self.transport.send(message).await.map_err(|e| IsError::EmailNotSent(e.to_string()))?;
        Ok(())
    }
}
