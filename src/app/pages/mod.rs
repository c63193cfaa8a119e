mod accounts;
mod audit;
mod auth;
mod keys;
mod models;
mod planned;
mod policies;
mod prices;
mod users;

pub use accounts::AccountsPage;
pub use audit::AuditPage;
pub use auth::{LoginPage, SetupPage};
pub use keys::KeysPage;
pub use models::ModelsPage;
pub use planned::{AlertsPage, DashboardPage, NotFoundPage};
pub use policies::PoliciesPage;
pub use prices::PricesPage;
pub use users::UsersPage;
