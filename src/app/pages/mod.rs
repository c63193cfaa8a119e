mod accounts;
mod alerts;
mod audit;
mod auth;
mod dashboard;
mod keys;
mod models;
mod planned;
mod policies;
mod prices;
mod requests;
mod users;

pub use accounts::AccountsPage;
pub use alerts::AlertsPage;
pub use audit::AuditPage;
pub use auth::{LoginPage, SetupPage};
pub use dashboard::{
    AccountDetailPage, DashboardPage, KeyDetailPage, ModelDetailPage, PolicyDetailPage,
};
pub use keys::KeysPage;
pub use models::ModelsPage;
pub use planned::NotFoundPage;
pub use policies::PoliciesPage;
pub use prices::PricesPage;
pub use requests::RequestLogPage;
pub use users::UsersPage;
